using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Tests.Kernels;

[Collection("Simd")]
public class AllocationTests
{
    /// <summary>Callers own every buffer: below the threading threshold a kernel call allocates nothing at all.</summary>
    [Fact]
    public void Kernels_on_the_calling_thread_allocate_nothing()
    {
        const int n = 4, c = 64, ff = 96, heads = 2, kvHeads = 1, hd = 16;
        float[] x = new float[n * c], y = new float[n * c], dy = new float[n * c], dx = new float[n * c], w = new float[c], b = new float[c];
        float[] dw = new float[c], db = new float[c], mean = new float[n], rstd = new float[n];
        float[] gateUp = new float[n * 2 * ff], h = new float[n * ff], dGateUp = new float[n * 2 * ff];
        float[] qkv = new float[n * (heads + 2 * kvHeads) * hd];
        int[] tokens = [1, 2, 3, 1], positions = [0, 1, 2, 3];
        float[] tokenTable = new float[8 * c], positionTable = new float[8 * c];
        var table = new RopeTable(hd, 8, 10000f);
        var layout = new ParameterLayout(ModelConfig.Gpt2Style(vocab: 8, dModel: 16, layers: 1, heads: 2, context: 4));
        var p = new ParameterBuffer(layout);
        var g = new ParameterBuffer(layout);
        var m = new ParameterBuffer(layout);
        var v = new ParameterBuffer(layout);
        var options = new AdamWOptions();
        var tinyGrads = new float[1000];

        void All()
        {
            Embedding.Forward(tokens, positions, tokenTable, positionTable, y, c);
            Embedding.Backward(dy, tokens, positions, tokenTable, positionTable, c);
            LayerNorm.Forward(x, w, b, y, mean, rstd, n, c, 1e-5f);
            LayerNorm.Backward(dy, x, w, mean, rstd, dx, dw, db, n, c);
            RmsNorm.Forward(x, w, y, rstd, n, c, 1e-5f);
            RmsNorm.Backward(dy, x, w, rstd, dx, dw, n, c);
            Rope.Forward(qkv, positions, table, heads, kvHeads, hd);
            Rope.Backward(qkv, positions, table, heads, kvHeads, hd);
            Gelu.Forward(x, y);
            Gelu.Backward(dy, x, dx);
            SwiGlu.Forward(gateUp, h, n, ff);
            SwiGlu.Backward(h, gateUp, dGateUp, n, ff);
            Bias.Forward(y, b, n, c);
            Bias.Backward(dy, db, n, c);
            AdamW.Step(p, g, m, v, options, 1, 1e-3f);
            GradClip.ClipByGlobalNorm(tinyGrads, 1f);
        }

        KernelCheck.ForEachLevel(level =>
        {
            All(); // JIT and tier-up allocations happen here
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 3; i++) All();
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        });
    }
}
