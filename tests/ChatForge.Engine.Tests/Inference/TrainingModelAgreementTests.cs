using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Tests.Inference;

/// <summary>The inference engine and the training Transformer are separate code paths over the same weights: their logits must agree.</summary>
public class TrainingModelAgreementTests
{
    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Cached_decode_logits_equal_the_training_models_forward(string config)
    {
        var parameters = TinyModels.RandomParameters(config == "gpt2" ? TinyModels.Gpt2 : TinyModels.Llama, seed: 41);
        int v = parameters.Layout.Config.VocabSize, d = parameters.Layout.Config.HiddenSize;
        const int batch = 2, t = 24;
        var rng = new Random(42);
        var tokens = Enumerable.Range(0, batch * t).Select(_ => rng.Next(v)).ToArray();

        // Training path: every position of both sequences at once; logits = hidden · lm_headᵀ.
        var hidden = new Transformer(parameters).ForwardHidden(tokens, batch, t).ToArray();
        var lmHead = parameters[parameters.Layout.LmHead].ToArray();
        double Logit(int row, int token)
        {
            double acc = 0;
            for (int i = 0; i < d; i++) acc += (double)hidden[row * d + i] * lmHead[token * d + i];
            return acc;
        }

        // Inference path: a prefill of 5 tokens, then one token per step, both sequences decoded together.
        var model = new InferenceModel(parameters, WeightFormat.F32);
        var cache = model.CreateCache(batch);
        int[] slots = [cache.Allocate(), cache.Allocate()];
        var logits = new float[batch * v];
        const int prefill = 5;
        var rows = new List<ForwardRow>();
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < prefill; i++) rows.Add(new ForwardRow(slots[b], tokens[b * t + i], i, i == prefill - 1));
        model.Forward(rows.ToArray(), cache, logits);
        double maxDiff = 0;
        for (int position = prefill - 1; position < t; position++)
        {
            for (int b = 0; b < batch; b++)
                for (int token = 0; token < v; token++)
                    maxDiff = Math.Max(maxDiff, Math.Abs(logits[b * v + token] - Logit(b * t + position, token)));
            if (position + 1 == t) break;
            model.Forward(Enumerable.Range(0, batch).Select(b => new ForwardRow(slots[b], tokens[b * t + position + 1], position + 1, true)).ToArray(), cache, logits);
        }
        Assert.True(maxDiff < 1e-4, $"max |Δlogit| between inference and training forward = {maxDiff}");
    }
}
