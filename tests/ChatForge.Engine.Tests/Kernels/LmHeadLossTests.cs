using ChatForge.Engine.Kernels;
using static ChatForge.Engine.Tests.Kernels.AttentionReference;

namespace ChatForge.Engine.Tests.Kernels;

[Collection("Simd")]
public class LmHeadLossTests
{
    sealed record Reference(double Loss, double[] LogProbs, double[] Entropy, double[] Dx, double[] DW);

    /// <summary>Full float64 softmax over the whole vocabulary.</summary>
    static Reference Compute(float[] x, float[] w, int[] targets, float[] weights, int n, int d, int vocab)
    {
        var logProbs = new double[n];
        var entropy = new double[n];
        var dx = new double[n * d];
        var dW = new double[vocab * d];
        var logits = new double[vocab];
        double loss = 0;
        for (int r = 0; r < n; r++)
        {
            double max = double.NegativeInfinity;
            for (int v = 0; v < vocab; v++)
            {
                double s = 0;
                for (int k = 0; k < d; k++) s += (double)x[r * d + k] * w[v * d + k];
                logits[v] = s;
                max = Math.Max(max, s);
            }
            double sum = 0;
            for (int v = 0; v < vocab; v++) sum += Math.Exp(logits[v] - max);
            double lse = max + Math.Log(sum);
            double h = 0;
            for (int v = 0; v < vocab; v++) h -= Math.Exp(logits[v] - lse) * (logits[v] - lse);
            entropy[r] = h;
            int t = targets[r];
            if (t < 0) continue;
            logProbs[r] = logits[t] - lse;
            loss -= weights[r] * logProbs[r];
            for (int v = 0; v < vocab; v++)
            {
                double g = weights[r] * (Math.Exp(logits[v] - lse) - (v == t ? 1 : 0));
                for (int k = 0; k < d; k++)
                {
                    dx[r * d + k] += g * w[v * d + k];
                    dW[v * d + k] += g * x[r * d + k];
                }
            }
        }
        return new Reference(loss, logProbs, entropy, dx, dW);
    }

    static (float[] X, float[] W, int[] Targets, float[] Weights) Problem(int n, int d, int vocab, int seed)
    {
        var x = Random(n * d, seed, amplitude: 1f);
        var w = Random(vocab * d, seed + 1, amplitude: 0.5f);
        var rng = new Random(seed + 2);
        var targets = new int[n];
        var weights = new float[n];
        for (int r = 0; r < n; r++)
        {
            targets[r] = r % 4 == 1 ? -1 : rng.Next(vocab);
            weights[r] = (float)(rng.NextDouble() * 2 - 0.5); // non-uniform, some negative (policy-gradient form)
        }
        targets[0] = vocab - 1; // a target in the last, partial chunk
        return (x, w, targets, weights);
    }

    [Theory]
    [InlineData(11, 24, LmHeadLoss.ChunkColumns * 2 + 37)] // vocabulary not a multiple of the chunk
    [InlineData(9, 17, 300)]                             // vocabulary below one chunk, odd width
    [InlineData(1, 8, 5)]
    public void ForwardBackward_matches_float64_full_softmax(int n, int d, int vocab)
    {
        var (x, w, targets, weights) = Problem(n, d, vocab, seed: n + vocab);
        var expected = Compute(x, w, targets, weights, n, d, vocab);
        foreach (var level in AttentionTests.AllLevels)
        {
            var logProbs = new float[n];
            var dx = new float[n * d];
            Array.Fill(dx, float.NaN); // written, not accumulated
            var dW = Random(vocab * d, seed: 99); // accumulated: start from something
            var dWStart = (float[])dW.Clone();
            float loss = LmHeadLoss.ForwardBackward(x, w, targets, weights, logProbs, dx, dW, n, d, vocab, level);

            Assert.True(Math.Abs(loss - expected.Loss) <= 1e-4 * (1 + Math.Abs(expected.Loss)), $"loss {loss} vs {expected.Loss} at {level}");
            AssertClose(expected.LogProbs, logProbs, 2e-5, 2e-5, $"logProbs at {level}");
            AssertClose(expected.Dx, dx, 2e-6, 1e-4, $"dx at {level}");
            var dWExpected = new double[dW.Length];
            for (int i = 0; i < dW.Length; i++) dWExpected[i] = dWStart[i] + expected.DW[i];
            AssertClose(dWExpected, dW, 2e-6, 1e-4, $"dW at {level}");

            var entropy = new float[n];
            var forwardLogProbs = new float[n];
            float meanNll = LmHeadLoss.Forward(x, w, targets, forwardLogProbs, entropy, n, d, vocab, level);
            AssertClose(expected.LogProbs, forwardLogProbs, 2e-5, 2e-5, $"Forward logProbs at {level}");
            AssertClose(expected.Entropy, entropy, 2e-5, 2e-5, $"entropy at {level}");
            var valid = expected.LogProbs.Where((_, r) => targets[r] >= 0).ToArray();
            Assert.Equal(-valid.Average(), meanNll, 4);

            var noEntropy = new float[n];
            LmHeadLoss.Forward(x, w, targets, noEntropy, Span<float>.Empty, n, d, vocab, level);
            AssertClose(forwardLogProbs, noEntropy, 1e-6, 1e-6, $"logProbs without entropy at {level}");
        }
    }

    [Fact]
    public void Keeping_the_logits_for_pass_two_gives_exactly_what_recomputing_them_gives()
    {
        // Small problems keep every chunk's logits; a limit of 0 forces the recompute path. The same GEMM makes the
        // same floats, so loss, log-probabilities and both gradients agree bit for bit.
        int n = 13, d = 20, vocab = LmHeadLoss.ChunkColumns + 300;
        var (x, w, targets, weights) = Problem(n, d, vocab, seed: 5);
        (float Loss, float[] LogProbs, float[] Dx, float[] DW) Run()
        {
            var logProbs = new float[n];
            var dx = new float[n * d];
            var dW = new float[vocab * d];
            float loss = LmHeadLoss.ForwardBackward(x, w, targets, weights, logProbs, dx, dW, n, d, vocab);
            return (loss, logProbs, dx, dW);
        }
        var kept = Run();
        long limit = LmHeadLoss.KeptLogitsLimit;
        LmHeadLoss.KeptLogitsLimit = 0;
        try
        {
            var recomputed = Run();
            Assert.Equal(recomputed.Loss, kept.Loss);
            Assert.Equal(recomputed.LogProbs, kept.LogProbs);
            Assert.Equal(recomputed.Dx, kept.Dx);
            Assert.Equal(recomputed.DW, kept.DW);
        }
        finally { LmHeadLoss.KeptLogitsLimit = limit; }
    }

    [Fact]
    public void Public_overloads_follow_the_forced_level()
    {
        var (x, w, targets, weights) = Problem(6, 16, 100, seed: 4);
        foreach (var level in Simd.Supported())
        using (Simd.Force(level))
        {
            float[] logProbs = new float[6], dx = new float[6 * 16], dW = new float[100 * 16];
            float[] logProbs2 = new float[6], dx2 = new float[6 * 16], dW2 = new float[100 * 16];
            float loss = LmHeadLoss.ForwardBackward(x, w, targets, weights, logProbs, dx, dW, 6, 16, 100);
            float loss2 = LmHeadLoss.ForwardBackward(x, w, targets, weights, logProbs2, dx2, dW2, 6, 16, 100, level);
            Assert.Equal(loss2, loss);
            Assert.Equal(dx2, dx);
            Assert.Equal(dW2, dW);
        }
    }

    [Fact]
    public void Gradients_match_finite_differences_of_the_loss()
    {
        const int n = 5, d = 6, vocab = 40;
        var (x, w, targets, weights) = Problem(n, d, vocab, seed: 12);
        var dx = new float[n * d];
        var dW = new float[vocab * d];
        LmHeadLoss.ForwardBackward(x, w, targets, weights, new float[n], dx, dW, n, d, vocab);

        double Loss() => Compute(x, w, targets, weights, n, d, vocab).Loss;
        const float eps = 1e-3f;
        void CheckGradient(float[] p, float[] grad, string name)
        {
            for (int i = 0; i < p.Length; i++)
            {
                float saved = p[i];
                p[i] = saved + eps; double plus = Loss();
                p[i] = saved - eps; double minus = Loss();
                p[i] = saved;
                double numeric = (plus - minus) / ((double)(saved + eps) - (saved - eps));
                Assert.True(Math.Abs(numeric - grad[i]) <= 1e-4 + 1e-3 * Math.Abs(numeric), $"{name}[{i}]: analytic {grad[i]}, numeric {numeric}");
            }
        }
        CheckGradient(x, dx, "dx");
        CheckGradient(w, dW, "dW");
    }

    [Fact]
    public void Huge_logits_stay_finite()
    {
        const int n = 4, d = 8, vocab = LmHeadLoss.ChunkColumns + 100;
        var (x, w, targets, weights) = Problem(n, d, vocab, seed: 8);
        for (int i = 0; i < x.Length; i++) x[i] *= 300f; // logits in the hundreds: exp overflows without the running max
        var expected = Compute(x, w, targets, weights, n, d, vocab);
        foreach (var level in AttentionTests.AllLevels)
        {
            var logProbs = new float[n];
            var dx = new float[n * d];
            float loss = LmHeadLoss.ForwardBackward(x, w, targets, weights, logProbs, dx, new float[vocab * d], n, d, vocab, level);
            Assert.True(Math.Abs(loss - expected.Loss) <= 1e-3 * (1 + Math.Abs(expected.Loss)), $"loss {loss} vs {expected.Loss} at {level}");
            AssertClose(expected.LogProbs, logProbs, 1e-3, 1e-4, $"logProbs at {level}");
            AssertClose(expected.Dx, dx, 1e-4, 1e-3, $"dx at {level}");
        }
    }

    [Fact]
    public void All_rows_ignored_gives_zero_loss_and_zero_dx()
    {
        var (x, w, _, weights) = Problem(3, 4, 10, seed: 1);
        var dx = Random(12, seed: 2);
        var dW = new float[40];
        var logProbs = new float[] { 5, 5, 5 };
        float loss = LmHeadLoss.ForwardBackward(x, w, new[] { -1, -1, -1 }, weights, logProbs, dx, dW, 3, 4, 10);
        Assert.Equal(0f, loss);
        Assert.All(dx, v => Assert.Equal(0f, v));
        Assert.All(dW, v => Assert.Equal(0f, v));
        Assert.All(logProbs, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Bad_inputs_name_the_shapes()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            LmHeadLoss.ForwardBackward(new float[3 * 4], new float[9 * 4], new int[3], new float[3], new float[3], new float[12], new float[40], 3, 4, 10));
        Assert.Contains("w", ex.Message);
        Assert.Contains("[10, 4]", ex.Message);
        Assert.Contains("36", ex.Message);

        ex = Assert.Throws<ArgumentException>(() =>
            LmHeadLoss.ForwardBackward(new float[12], new float[40], new int[3], new float[2], new float[3], new float[12], new float[40], 3, 4, 10));
        Assert.Contains("rowWeights", ex.Message);
        Assert.Contains("[3]", ex.Message);

        ex = Assert.Throws<ArgumentException>(() =>
            LmHeadLoss.Forward(new float[12], new float[40], new int[3], new float[3], new float[2], 3, 4, 10));
        Assert.Contains("entropy", ex.Message);

        var range = Assert.Throws<ArgumentOutOfRangeException>(() =>
            LmHeadLoss.Forward(new float[12], new float[40], new[] { 0, 10, 1 }, new float[3], Span<float>.Empty, 3, 4, 10));
        Assert.Contains("row 1", range.Message);
        Assert.Contains("[0, 10)", range.Message);
    }
}
