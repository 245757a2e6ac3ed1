using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Tests.Model;

public sealed class TransformerTests
{
    [Fact]
    public void Tiny_model_overfits_one_batch()
    {
        var config = ModelConfig.Gpt2Style(vocab: 32, dModel: 32, layers: 2, heads: 4, context: 16);
        var model = new Transformer(config, seed: 1);
        const int batch = 4, t = 16;
        var rng = new ChatForge.Engine.Training.SplitMix64(5);
        var tokens = new int[batch * t];
        var targets = new int[batch * t];
        for (int i = 0; i < tokens.Length; i++) { tokens[i] = (int)rng.NextInt64(32); targets[i] = (int)rng.NextInt64(32); }
        var m = new ParameterBuffer(model.Layout);
        var v = new ParameterBuffer(model.Layout);
        var options = new AdamWOptions { WeightDecay = 0f };
        float loss = float.NaN, first = float.NaN;
        for (int step = 1; step <= 300; step++)
        {
            model.ZeroGrad();
            loss = model.LanguageModelLoss(tokens, targets, batch, t);
            if (step == 1) first = loss;
            AdamW.Step(model.Parameters, model.Grads, m, v, options, step, 1e-2f);
        }
        Assert.InRange(first, 3.2f, 3.7f); // ≈ ln 32 at init
        Assert.True(loss < 0.05f, $"loss after 300 steps: {loss}");
        Assert.Equal(loss, model.Evaluate(tokens, targets, batch, t), 0.05f);
    }

    [Fact]
    public void Init_is_deterministic_and_gpt2_shaped()
    {
        var config = ModelConfig.Gpt2Style(vocab: 64, dModel: 32, layers: 4, heads: 4, context: 16);
        var a = new Transformer(config, 42);
        var b = new Transformer(config, 42);
        Assert.Equal(a.Parameters.Data, b.Parameters.Data);
        Assert.NotEqual(a.Parameters.Data, new Transformer(config, 43).Parameters.Data);
        static double Std(ReadOnlySpan<float> x) { double s = 0; foreach (var v in x) s += v * (double)v; return Math.Sqrt(s / x.Length); }
        Assert.InRange(Std(a.Parameters["layers.0.attn.qkv.weight"]), 0.018, 0.022);
        Assert.InRange(Std(a.Parameters["layers.0.attn.out.weight"]), 0.018 / Math.Sqrt(8), 0.022 / Math.Sqrt(8));
        Assert.All(a.Parameters["layers.1.mlp_norm.weight"].ToArray(), w => Assert.Equal(1f, w));
        Assert.All(a.Parameters["layers.1.mlp.up.bias"].ToArray(), w => Assert.Equal(0f, w));
    }

    [Fact]
    public void Forward_hidden_rows_are_causal_and_batch_independent()
    {
        var model = TransformerGradientTests.Randomised(TransformerGradientTests.Tiny("llama-gqa"), 2);
        int d = model.Config.HiddenSize;
        int[] tokens = [1, 2, 3, 4, 5, 6, 7, 8];
        var full = model.ForwardHidden(tokens, 2, 4).ToArray();
        var prefix = model.ForwardHidden([1, 2, 3], 1, 3).ToArray();
        for (int i = 0; i < 3 * d; i++) Assert.Equal(full[i], prefix[i], 1e-5f);
        var second = model.ForwardHidden([5, 6, 7, 8], 1, 4).ToArray();
        for (int i = 0; i < 4 * d; i++) Assert.Equal(full[4 * d + i], second[i], 1e-5f);
    }

    [Fact]
    public void Shape_errors_name_the_shapes()
    {
        var model = new Transformer(ModelConfig.Gpt2Style(vocab: 16, dModel: 8, layers: 1, heads: 2, context: 8), 1);
        var e = Assert.Throws<ArgumentException>(() => model.ForwardHidden(new int[7], 2, 4));
        Assert.Contains("[batch 2, t 4]", e.Message);
        Assert.Contains("7", e.Message);
        var tooLong = Assert.ThrowsAny<ArgumentException>(() => model.ForwardHidden(new int[9], 1, 9));
        Assert.Contains("context length", tooLong.Message);
        Assert.Contains("8", tooLong.Message);
        var badToken = Assert.Throws<ArgumentException>(() => model.ForwardHidden([1, 2, 16, 3], 1, 4));
        Assert.Contains("16", badToken.Message);
        Assert.Contains("[0, 16)", badToken.Message);
        var badTargets = Assert.Throws<ArgumentException>(() => model.LanguageModelLoss([1, 2, 3, 4], [1, 2, 3], 1, 4));
        Assert.Contains("Targets hold 3", badTargets.Message);
        Assert.Throws<InvalidOperationException>(() => model.BackwardHidden(new float[32]));
        model.ForwardHidden([1, 2, 3, 4], 1, 4);
        var badGrad = Assert.Throws<ArgumentException>(() => model.BackwardHidden(new float[31]));
        Assert.Contains("[4, 8]", badGrad.Message);
    }

    [Fact]
    public void Activations_for_config_b_fit_comfortably()
    {
        var config = ModelConfig.Gpt2Style(vocab: 8192, dModel: 512, layers: 8, heads: 8, context: 512);
        var acts = new Activations(config, 8, 512);
        Assert.True(acts.Bytes(config) < 1.5 * (1L << 30), $"{acts.Bytes(config) / (1 << 20)} MiB");
    }
}
