using ChatForge.Engine.Kernels;
using static ChatForge.Engine.Tests.Kernels.KernelCheck;

namespace ChatForge.Engine.Tests.Kernels;

[Collection("Simd")]
public class EmbeddingTests
{
    static double[] Ref(int[] tokens, int[] positions, double[] tokenTable, double[] positionTable, int d)
    {
        var y = new double[tokens.Length * d];
        for (int r = 0; r < tokens.Length; r++)
            for (int j = 0; j < d; j++)
                y[r * d + j] = tokenTable[tokens[r] * d + j] + (positionTable.Length == 0 ? 0 : positionTable[positions[r] * d + j]);
        return y;
    }

    [Theory]
    [InlineData(5, 3)]
    [InlineData(37, 9)]
    public void Forward_matches_reference_with_and_without_position_table(int d, int n)
    {
        var rng = new Random(d);
        const int vocab = 11, maxT = 6;
        var tokenTable = Random(rng, vocab * d);
        var positionTable = Random(rng, maxT * d);
        var tokens = Enumerable.Range(0, n).Select(i => (i * 7) % vocab).ToArray();
        var positions = Enumerable.Range(0, n).Select(i => i % maxT).ToArray();
        ForEachLevel(level =>
        {
            var y = new float[n * d];
            Embedding.Forward(tokens, positions, tokenTable, positionTable, y, d);
            Close(y, Ref(tokens, positions, ToDouble(tokenTable), ToDouble(positionTable), d), 1e-6, $"learned positions {level}");
            Embedding.Forward(tokens, ReadOnlySpan<int>.Empty, tokenTable, ReadOnlySpan<float>.Empty, y, d);
            Close(y, Ref(tokens, positions, ToDouble(tokenTable), [], d), 0, $"token only {level}");
        });
    }

    [Fact]
    public void Backward_scatter_adds_repeated_tokens_and_matches_finite_differences()
    {
        const int d = 19, vocab = 5, maxT = 4, n = 9;
        var rng = new Random(2);
        var tokenTable = Random(rng, vocab * d);
        var positionTable = Random(rng, maxT * d);
        int[] tokens = [1, 3, 1, 1, 4, 0, 3, 1, 2];   // token 1 four times
        int[] positions = [0, 1, 2, 3, 0, 1, 2, 3, 0];
        var dy = Random(rng, n * d);
        double[] tt = ToDouble(tokenTable), pt = ToDouble(positionTable), dyd = ToDouble(dy);
        var gTokens = NumericGradient(v => Dot(dyd, Ref(tokens, positions, v, pt, d)), tt);
        var gPositions = NumericGradient(v => Dot(dyd, Ref(tokens, positions, tt, v, d)), pt);
        ForEachLevel(level =>
        {
            var dTok0 = Random(new Random(9), vocab * d);
            var dPos0 = Random(new Random(8), maxT * d);
            float[] dTok = (float[])dTok0.Clone(), dPos = (float[])dPos0.Clone();
            Embedding.Backward(dy, tokens, positions, dTok, dPos, d);
            Close(Delta(dTok, dTok0), gTokens, 1e-5, $"dTokenTable {level}");
            Close(Delta(dPos, dPos0), gPositions, 1e-5, $"dPositionTable {level}");
        });
    }

    [Fact]
    public void Multithreaded_backward_matches_single_thread()
    {
        const int d = 256, vocab = 50, n = 300; // 76,800 elements: split by columns over threads
        var rng = new Random(4);
        var tokens = Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
        var positions = Enumerable.Range(0, n).Select(i => i % 64).ToArray();
        var tokenTable = Random(rng, vocab * d);
        var positionTable = Random(rng, 64 * d);
        var dy = Random(rng, n * d);
        float[] y = new float[n * d], dTok = new float[vocab * d], dPos = new float[64 * d];
        Embedding.Forward(tokens, positions, tokenTable, positionTable, y, d);
        Close(y, Ref(tokens, positions, ToDouble(tokenTable), ToDouble(positionTable), d), 1e-6, "parallel forward");
        Embedding.Backward(dy, tokens, positions, dTok, dPos, d);
        float[] dTok1 = new float[vocab * d], dPos1 = new float[64 * d];
        WithThreads(1, () => Embedding.Backward(dy, tokens, positions, dTok1, dPos1, d));
        Assert.Equal(dTok1, dTok);
        Assert.Equal(dPos1, dPos);
    }

    [Fact]
    public void Bad_ids_and_shapes_throw_before_writing()
    {
        const int d = 4;
        var tokenTable = new float[3 * d];
        var positionTable = new float[2 * d];
        var y = Enumerable.Repeat(42f, 2 * d).ToArray();
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Forward([0, 3], [0, 1], tokenTable, positionTable, y, d));
        Assert.Contains("token id 3", ex.Message);
        Assert.Contains("[0, 3)", ex.Message);
        Assert.All(y, v => Assert.Equal(42f, v));
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Forward([0, -1], [0, 1], tokenTable, positionTable, y, d));
        var pex = Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Forward([0, 1], [0, 2], tokenTable, positionTable, y, d));
        Assert.Contains("position 2", pex.Message);
        var sex = Assert.Throws<ArgumentException>(() => Embedding.Forward([0, 1], [0, 1], tokenTable, positionTable, new float[7], d));
        Assert.Contains("[n=2, d=4]", sex.Message);
        Assert.Throws<ArgumentException>(() => Embedding.Forward([0, 1], [0], tokenTable, positionTable, y, d));
        Assert.Throws<ArgumentException>(() => Embedding.Forward([0, 1], [0, 1], new float[11], positionTable, y, d));
        var dTok = new float[3 * d];
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Backward(new float[2 * d], [0, 5], [0, 1], dTok, new float[2 * d], d));
        Assert.All(dTok, v => Assert.Equal(0f, v));
    }
}
