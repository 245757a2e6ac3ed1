using ChatForge.Engine.Model;
using ChatForge.Engine.Training;

namespace ChatForge.Engine.Tests.Model;

/// <summary>
/// Whole-model gradient check: the analytic gradient of <see cref="Transformer.LanguageModelLoss"/> against
/// central finite differences of <see cref="Transformer.Evaluate"/> on a sample of parameters from every tensor.
/// The model runs in float32, so the step is large (1e-2 on weights of std ~0.3) to lift the difference above
/// float rounding (~1e-7 relative on a loss of ~2.5) while the O(eps²) truncation error stays ~1e-4.
/// </summary>
public sealed class TransformerGradientTests
{
    const int Batch = 2, T = 5;

    public static TheoryData<string> Configs => new() { "gpt2", "llama-gqa", "qwen-qkv-bias", "gpt2-untied-swiglu-rms", "gpt2-headdim-override" };

    internal static ModelConfig Tiny(string name) => name switch
    {
        "gpt2" => ModelConfig.Gpt2Style(vocab: 13, dModel: 8, layers: 2, heads: 2, context: 8),
        "llama-gqa" => ModelConfig.LlamaStyle(vocab: 13, dModel: 16, layers: 2, heads: 4, kvHeads: 2, intermediate: 12, context: 8),
        "qwen-qkv-bias" => ModelConfig.LlamaStyle(vocab: 13, dModel: 16, layers: 2, heads: 4, kvHeads: 1, intermediate: 12, context: 8) with { QkvBias = true, TieEmbeddings = true },
        "gpt2-untied-swiglu-rms" => ModelConfig.Gpt2Style(vocab: 13, dModel: 8, layers: 1, heads: 2, context: 8) with { TieEmbeddings = false, Mlp = MlpKind.SwiGlu, Norm = NormKind.RmsNorm, AttnOutBias = false },
        "gpt2-headdim-override" => ModelConfig.Gpt2Style(vocab: 13, dModel: 8, layers: 1, heads: 3, context: 8) with { HeadDimOverride = 4, Position = PositionKind.Rope },
        _ => throw new ArgumentException(name),
    };

    /// <summary>Init, then widen every weight so gradients are far from zero (norm weights and biases become random too).</summary>
    internal static Transformer Randomised(ModelConfig config, ulong seed)
    {
        var model = new Transformer(config, seed);
        var rng = new SplitMix64(seed + 1);
        foreach (var slot in model.Layout.Tensors)
        {
            var data = model.Parameters[slot];
            bool norm = slot.Name.Contains("norm") && slot.Name.EndsWith(".weight");
            for (int i = 0; i < data.Length; i++)
                data[i] = norm ? 1f + 0.3f * (float)rng.NextGaussian() : 0.3f * (float)rng.NextGaussian();
        }
        return model;
    }

    static (int[] Tokens, int[] Targets) RandomBatch(int vocab, ulong seed, bool withIgnored)
    {
        var rng = new SplitMix64(seed);
        var tokens = new int[Batch * T];
        var targets = new int[Batch * T];
        for (int i = 0; i < tokens.Length; i++) { tokens[i] = (int)rng.NextInt64(vocab); targets[i] = (int)rng.NextInt64(vocab); }
        if (withIgnored) { targets[1] = -1; targets[T + 3] = -1; }
        return (tokens, targets);
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Analytic_gradient_matches_finite_differences(string name)
    {
        var model = Randomised(Tiny(name), 7);
        var (tokens, targets) = RandomBatch(model.Config.VocabSize, 11, withIgnored: true);
        model.ZeroGrad();
        float loss = model.LanguageModelLoss(tokens, targets, Batch, T);
        Assert.Equal(model.Evaluate(tokens, targets, Batch, T), loss, 1e-5f);
        CheckGradients(model, () => model.Evaluate(tokens, targets, Batch, T));
    }

    [Fact]
    public void Gradient_with_row_weights_matches_weighted_log_prob_sum()
    {
        // The policy-gradient form PPO/DPO use: loss = Σ w_r · (−log p_r), arbitrary signed weights.
        var model = Randomised(Tiny("llama-gqa"), 3);
        var (tokens, targets) = RandomBatch(model.Config.VocabSize, 5, withIgnored: true);
        var weights = new float[Batch * T];
        var rng = new SplitMix64(9);
        for (int i = 0; i < weights.Length; i++) weights[i] = (float)rng.NextGaussian();
        var logProbs = new float[Batch * T];
        model.ZeroGrad();
        float loss = model.LanguageModelLoss(tokens, targets, Batch, T, weights, logProbs);

        double WeightedLoss()
        {
            var lp = new float[Batch * T];
            model.Evaluate(tokens, targets, Batch, T, lp);
            double sum = 0;
            for (int r = 0; r < lp.Length; r++) if (targets[r] >= 0) sum -= weights[r] * lp[r];
            return sum;
        }
        Assert.Equal(WeightedLoss(), loss, 1e-4);
        var evalLogProbs = new float[Batch * T];
        model.Evaluate(tokens, targets, Batch, T, evalLogProbs);
        for (int r = 0; r < logProbs.Length; r++) Assert.Equal(evalLogProbs[r], logProbs[r], 1e-5f);
        CheckGradients(model, () => (float)WeightedLoss());
    }

    static void CheckGradients(Transformer model, Func<double> loss)
    {
        const float eps = 1e-2f;
        var rng = new SplitMix64(123);
        var numeric = new List<double>();
        var analytic = new List<double>();
        var p = model.Parameters.Data;
        var g = model.Grads.Data.ToArray();
        foreach (var slot in model.Layout.Tensors.DistinctBy(s => s.Offset))
        {
            int samples = (int)Math.Min(slot.Length, 12);
            for (int k = 0; k < samples; k++)
            {
                int i = (int)slot.Offset + (int)rng.NextInt64(slot.Length);
                float saved = p[i];
                p[i] = saved + eps; double plus = loss();
                p[i] = saved - eps; double minus = loss();
                p[i] = saved;
                double num = (plus - minus) / (2 * eps);
                numeric.Add(num);
                analytic.Add(g[i]);
                double tolerance = 2e-3 + 3e-2 * Math.Max(Math.Abs(num), Math.Abs(g[i]));
                Assert.True(Math.Abs(num - g[i]) <= tolerance,
                    $"{slot.Name} [{i - slot.Offset}]: analytic {g[i]:G6} vs numeric {num:G6}");
            }
        }
        // Over the whole sample: the vectors agree in direction and length.
        double dot = 0, nn = 0, na = 0, diff = 0;
        for (int i = 0; i < numeric.Count; i++)
        {
            dot += numeric[i] * analytic[i]; nn += numeric[i] * numeric[i]; na += analytic[i] * analytic[i];
            diff += (numeric[i] - analytic[i]) * (numeric[i] - analytic[i]);
        }
        Assert.True(dot / Math.Sqrt(nn * na) > 0.9999, $"cosine {dot / Math.Sqrt(nn * na)}");
        Assert.True(Math.Sqrt(diff / nn) < 1e-2, $"relative error {Math.Sqrt(diff / nn)}");
    }
}
