using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;
using static ChatForge.Engine.Tests.Kernels.KernelCheck;

namespace ChatForge.Engine.Tests.Kernels;

[Collection("Simd")]
public class OptimizerTests
{
    // Hand-computed two AdamW steps, lr 0.1, β₁ 0.9, β₂ 0.95, ε 1e-8, wd 0.1, p₀ = 1, g₁ = 0.5, g₂ = −0.25:
    //   step 1: m = 0.05, v = 0.0125, m̂ = 0.5, v̂ = 0.25, update = 0.5/0.5 = 1
    //           decayed p = 1·(1 − 0.01) − 0.1·1 = 0.89;  undecayed p = 1 − 0.1 = 0.9
    //   step 2: m = 0.045 − 0.025 = 0.02, v = 0.011875 + 0.003125 = 0.015,
    //           m̂ = 0.02/0.19 = 0.1052632, v̂ = 0.015/0.0975 = 0.1538462, update = 0.1052632/0.3922323 = 0.2683713
    //           decayed p = 0.89·0.99 − 0.02683713 = 0.8542629;  undecayed p = 0.9 − 0.02683713 = 0.8731629
    const double Decayed1 = 0.89, Plain1 = 0.9, Decayed2 = 0.8542629, Plain2 = 0.8731629;

    static ParameterLayout TinyLayout() => new(ModelConfig.Gpt2Style(vocab: 10, dModel: 20, layers: 1, heads: 2, context: 6));

    [Fact]
    public void AdamW_two_steps_match_hand_computation_and_skip_decay_on_norms_biases_embeddings()
    {
        var layout = TinyLayout();
        Assert.Contains(layout.Tensors, t => t.WeightDecay);
        Assert.Contains(layout.Tensors, t => !t.WeightDecay);
        ForEachLevel(level =>
        {
            foreach (bool decayAll in new[] { false, true })
            {
                var p = new ParameterBuffer(layout);
                var g = new ParameterBuffer(layout);
                var m = new ParameterBuffer(layout);
                var v = new ParameterBuffer(layout);
                foreach (var t in layout.Tensors) p[t].Fill(1f);
                var options = new AdamWOptions { DecayAll = decayAll };
                foreach (var t in layout.Tensors) g[t].Fill(0.5f);
                AdamW.Step(p, g, m, v, options, step: 1, learningRate: 0.1f);
                foreach (var t in layout.Tensors)
                    Assert.All(p[t].ToArray(), x => Assert.Equal(t.WeightDecay || decayAll ? Decayed1 : Plain1, x, 1e-6));
                foreach (var t in layout.Tensors) g[t].Fill(-0.25f);
                AdamW.Step(p, g, m, v, options, step: 2, learningRate: 0.1f);
                foreach (var t in layout.Tensors)
                {
                    double expected = t.WeightDecay || decayAll ? Decayed2 : Plain2;
                    Assert.All(p[t].ToArray(), x => Assert.Equal(expected, x, 1e-6));
                    Assert.All(m[t].ToArray(), x => Assert.Equal(0.02, x, 1e-7));
                    Assert.All(v[t].ToArray(), x => Assert.Equal(0.015, x, 1e-7));
                }
                // The alignment padding between tensors is not a parameter and stays untouched.
                long covered = layout.Tensors.Sum(t => t.Length);
                Assert.Equal(covered, p.Data.Count(x => x != 0f));
            }
        });
    }

    static void AdamWRef(double[] p, double[] g, double[] m, double[] v, double lr, double b1, double b2, double eps, double wd, int t)
    {
        for (int i = 0; i < p.Length; i++)
        {
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            double mhat = m[i] / (1 - Math.Pow(b1, t)), vhat = v[i] / (1 - Math.Pow(b2, t));
            p[i] = p[i] * (1 - lr * wd) - lr * mhat / (Math.Sqrt(vhat) + eps);
        }
    }

    [Theory]
    [InlineData(37)]
    [InlineData(70_003)] // split over threads
    public void AdamW_update_matches_float64_reference_over_several_steps(int n)
    {
        ForEachLevel(level =>
        {
            var rng = new Random(n);
            var p = Random(rng, n);
            float[] m = new float[n], v = new float[n];
            double[] pd = ToDouble(p), md = new double[n], vd = new double[n];
            var options = new AdamWOptions(Beta1: 0.8f, Beta2: 0.99f, Eps: 1e-6f, WeightDecay: 0.05f);
            for (int t = 1; t <= 4; t++)
            {
                var g = Random(rng, n, 0.1);
                AdamW.Update(p, g, m, v, options, t, 0.01f, decay: true);
                AdamWRef(pd, ToDouble(g), md, vd, 0.01, 0.8, 0.99, 1e-6, 0.05, t);
            }
            Close(p, pd, 1e-5, $"AdamW params {level}");
            Close(m, md, 1e-5, $"AdamW m {level}");
            Close(v, vd, 1e-5, $"AdamW v {level}");
        });
    }

    [Fact]
    public void AdamW_rejects_bad_arguments()
    {
        var layout = TinyLayout();
        var p = new ParameterBuffer(layout);
        var other = new ParameterBuffer(new ParameterLayout(ModelConfig.Gpt2Style(10, 20, 2, 2, 6)));
        var ex = Assert.Throws<ArgumentException>(() => AdamW.Step(p, other, p, p, new AdamWOptions(), 1, 0.1f));
        Assert.Contains("grads", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => AdamW.Step(p, p, p, p, new AdamWOptions(), 0, 0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => AdamW.Step(p, p, p, p, new AdamWOptions(), 1, float.NaN));
        Assert.Throws<ArgumentException>(() => AdamW.Step(p, p, p, p, new AdamWOptions { Beta2 = 1f }, 1, 0.1f));
        Assert.Throws<ArgumentException>(() => AdamW.Step(p, p, p, p, new AdamWOptions { Eps = 0f }, 1, 0.1f));
        Assert.Throws<ArgumentException>(() => AdamW.Update(new float[4], new float[4], new float[3], new float[4], new AdamWOptions(), 1, 0.1f, true));
    }

    [Fact]
    public void GradClip_scales_a_known_vector_to_max_norm()
    {
        ForEachLevel(level =>
        {
            // 3-4-5 spread over a length that exercises vector body and tail: norm √(9·4 + 16·9) = √180
            var g = new float[13];
            for (int i = 0; i < 4; i++) g[i] = 3f;
            for (int i = 4; i < 13; i++) g[i] = -4f;
            Assert.Equal(Math.Sqrt(180), GradClip.GlobalNorm(g), 1e-5);
            float norm = GradClip.ClipByGlobalNorm(g, 1f);
            Assert.Equal(Math.Sqrt(180), norm, 1e-5);
            Assert.Equal(3 / Math.Sqrt(180), g[0], 1e-6);
            Assert.Equal(-4 / Math.Sqrt(180), g[12], 1e-6);
            Assert.Equal(1.0, GradClip.GlobalNorm(g), 1e-6);
            // Below the limit nothing changes.
            float[] small = [0.3f, 0.4f];
            Assert.Equal(0.5, GradClip.ClipByGlobalNorm(small, 1f), 1e-7);
            Assert.Equal([0.3f, 0.4f], small);
        });
    }

    [Fact]
    public void GradClip_is_accurate_for_ten_million_elements()
    {
        const int n = 10_000_000;
        var g = new float[n];
        for (int i = 0; i < n; i++) g[i] = (i % 3 == 0) ? 1e-3f : 3e-4f; // a single float running sum stalls long before 10⁷ terms
        double exact = 0;
        for (int i = 0; i < n; i++) exact += (double)g[i] * g[i];
        exact = Math.Sqrt(exact);
        ForEachLevel(level => Assert.Equal(1.0, GradClip.GlobalNorm(g) / exact, 1e-6));
    }

    [Fact]
    public void GradClip_returns_non_finite_norm_and_leaves_grads_alone()
    {
        ForEachLevel(level =>
        {
            float[] g = [1f, float.NaN, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f, 11f, 12f, 13f, 14f, 15f, 16f];
            var before = (float[])g.Clone();
            Assert.True(float.IsNaN(GradClip.ClipByGlobalNorm(g, 1f)));
            Assert.Equal(before, g);
            float[] h = [1f, float.PositiveInfinity, 2f];
            Assert.True(float.IsPositiveInfinity(GradClip.ClipByGlobalNorm(h, 1f)));
            Assert.Equal(2f, h[2]);
            Assert.Throws<ArgumentOutOfRangeException>(() => GradClip.ClipByGlobalNorm(h, 0f));
        });
        Assert.Equal(0f, GradClip.GlobalNorm(ReadOnlySpan<float>.Empty));
    }
}
