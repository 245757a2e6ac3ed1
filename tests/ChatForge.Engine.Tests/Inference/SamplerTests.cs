using ChatForge.Engine.Inference;

namespace ChatForge.Engine.Tests.Inference;

public class SamplerTests
{
    static readonly double[] Probabilities = [0.5, 0.3, 0.15, 0.05];
    static float[] LogitsOf(double[] probs) => probs.Select(p => (float)Math.Log(p)).ToArray();

    static int[] Counts(Sampler sampler, float[] logits, int draws)
    {
        var counts = new int[logits.Length];
        for (int i = 0; i < draws; i++) counts[sampler.Sample(logits)]++;
        return counts;
    }

    static double ChiSquare(int[] counts, double[] expectedProbs)
    {
        int n = counts.Sum();
        double chi = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            double e = n * expectedProbs[i];
            chi += (counts[i] - e) * (counts[i] - e) / e;
        }
        return chi;
    }

    [Fact]
    public void Greedy_is_argmax_and_top_k_1_is_greedy()
    {
        var rng = new Random(1);
        for (int trial = 0; trial < 50; trial++)
        {
            var logits = Enumerable.Range(0, 100).Select(_ => (float)(rng.NextDouble() * 10 - 5)).ToArray();
            int argmax = Array.IndexOf(logits, logits.Max());
            Assert.Equal(argmax, new Sampler(SamplingOptions.Greedy, 100).Sample(logits));
            Assert.Equal(argmax, new Sampler(new SamplingOptions { Temperature = 1.5f, TopK = 1, Seed = (ulong)trial }, 100).Sample(logits));
        }
        Assert.Equal(1, Sampler.ArgMax([0f, 3f, 3f, 1f])); // ties go to the lowest id
    }

    [Fact]
    public void Temperature_1_follows_the_softmax_and_a_higher_temperature_flattens_it()
    {
        var logits = LogitsOf(Probabilities);
        var t1 = Counts(new Sampler(new SamplingOptions { Temperature = 1f, Seed = 42 }, 4), logits, 20_000);
        var t2 = Counts(new Sampler(new SamplingOptions { Temperature = 2f, Seed = 42 }, 4), logits, 20_000);
        var flattened = Probabilities.Select(p => Math.Sqrt(p)).ToArray();
        flattened = flattened.Select(p => p / flattened.Sum()).ToArray();
        // 16.27 is the chi-square critical value for 3 degrees of freedom at p = 0.001.
        Assert.True(ChiSquare(t1, Probabilities) < 16.27, $"T=1 counts {string.Join(",", t1)}");
        Assert.True(ChiSquare(t2, flattened) < 16.27, $"T=2 counts {string.Join(",", t2)}");
        Assert.True(ChiSquare(t2, Probabilities) > 100, "T=2 should not follow the T=1 distribution");
    }

    [Fact]
    public void Top_k_keeps_only_the_k_most_likely_tokens_in_proportion()
    {
        var counts = Counts(new Sampler(new SamplingOptions { TopK = 2, Seed = 7 }, 4), LogitsOf(Probabilities), 10_000);
        Assert.Equal(0, counts[2] + counts[3]);
        Assert.True(ChiSquare(counts[..2], [0.5 / 0.8, 0.3 / 0.8]) < 10.83, string.Join(",", counts)); // 1 dof, p = 0.001
    }

    [Theory]
    [InlineData(0.45f, 1)] // 0.5 alone reaches 0.45
    [InlineData(0.75f, 2)] // 0.5 + 0.3
    [InlineData(0.9f, 3)]  // 0.5 + 0.3 + 0.15
    [InlineData(0.99f, 4)]
    public void Top_p_keeps_the_minimal_nucleus(float topP, int nucleus)
    {
        // Shuffle the ids so the nucleus is not simply a prefix of the vocabulary.
        int[] ids = [2, 0, 3, 1];
        var logits = new float[4];
        for (int i = 0; i < 4; i++) logits[ids[i]] = (float)Math.Log(Probabilities[i]);
        var counts = Counts(new Sampler(new SamplingOptions { TopP = topP, Seed = 3 }, 4), logits, 4_000);
        for (int i = 0; i < 4; i++)
            if (i < nucleus) Assert.True(counts[ids[i]] > 0, $"token {ids[i]} is in the nucleus");
            else Assert.Equal(0, counts[ids[i]]);
        var expected = Probabilities[..nucleus].Select(p => p / Probabilities[..nucleus].Sum()).ToArray();
        if (nucleus > 1) Assert.True(ChiSquare(ids[..nucleus].Select(id => counts[id]).ToArray(), expected) < 20);
    }

    [Fact]
    public void Top_p_over_a_large_flat_vocabulary_keeps_enough_mass()
    {
        // 1000 equal logits: top_p = 0.5 must keep 500 tokens, not one (3000 draws see ~475 of them).
        var logits = new float[1000];
        var sampler = new Sampler(new SamplingOptions { TopP = 0.5f, Seed = 9 }, 1000);
        var seen = new HashSet<int>();
        for (int i = 0; i < 3_000; i++) seen.Add(sampler.Sample(logits));
        Assert.InRange(seen.Count, 450, 501);
    }

    [Fact]
    public void The_same_seed_gives_the_same_tokens_and_another_seed_does_not()
    {
        var rng = new Random(5);
        var rows = Enumerable.Range(0, 64).Select(_ => Enumerable.Range(0, 50).Select(_ => (float)rng.NextDouble() * 3).ToArray()).ToArray();
        int[] Draw(ulong seed)
        {
            var sampler = new Sampler(new SamplingOptions { Temperature = 0.9f, TopK = 20, TopP = 0.95f, Seed = seed }, 50);
            return rows.Select(r => sampler.Sample(r)).ToArray();
        }
        Assert.Equal(Draw(123), Draw(123));
        Assert.NotEqual(Draw(123), Draw(124));
    }

    [Theory]
    [InlineData(-1f, 0, 1f, "temperature")]
    [InlineData(float.NaN, 0, 1f, "temperature")]
    [InlineData(1f, -2, 1f, "top_k")]
    [InlineData(1f, 0, 0f, "top_p")]
    [InlineData(1f, 0, 1.5f, "top_p")]
    public void Invalid_options_are_rejected(float temperature, int topK, float topP, string field)
    {
        var e = Assert.Throws<ArgumentException>(() => new Sampler(new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP }, 10));
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void A_logits_row_of_the_wrong_width_is_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new Sampler(SamplingOptions.Greedy, 10).Sample(new float[9]));
        Assert.Contains("9", e.Message);
    }
}
