using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;

namespace ChatForge.Server.Tests;

/// <summary>
/// A real model folder for the engine, built at test time: a GPT-2–style Transformer (d 32, 2 layers) with
/// random weights, except that the final norm's weight is zero and its bias points along one axis. Every
/// position then gets the same logits, taken from column 0 of the (tied) embedding: letters and space are
/// likely, the stop tokens impossible. Answers are readable gibberish and always run to the length cap,
/// which the Continue tests need; the whole Transformer still runs on every step.
/// </summary>
internal static class TinyModel
{
    public static string Create(string dir, int seed = 1, int contextLength = 512)
    {
        var tokenizer = new ByteChatTokenizer();
        var config = ModelConfig.Gpt2Style(vocab: tokenizer.VocabSize, dModel: 32, layers: 2, heads: 4, context: contextLength);
        var parameters = new ParameterBuffer(new ParameterLayout(config));
        var rng = new Random(seed);
        var layout = parameters.Layout;
        foreach (var t in layout.Tensors)
        {
            var span = parameters[t];
            bool norm = t.Name.Contains("norm"), bias = t.Name.EndsWith(".bias");
            double scale = bias || norm ? 0.05 : 1.0 / Math.Sqrt(t.Shape[^1]);
            for (int i = 0; i < span.Length; i++) span[i] = (float)((norm && !bias ? 1 : 0) + (rng.NextDouble() * 2 - 1) * scale);
        }
        parameters[layout.FinalNormWeight].Clear();
        var finalBias = parameters[layout.FinalNormBias!];
        finalBias.Clear();
        finalBias[0] = 1f;
        var embedding = parameters[layout.TokenEmbedding];
        int d = config.HiddenSize;
        for (int token = 0; token < config.VocabSize; token++)
        {
            bool likely = token is >= 'a' and <= 'z' || token == ' ';
            bool stop = token >= 256;
            embedding[token * d] = stop ? -30f : likely ? 6f + (float)rng.NextDouble() : -6f;
        }
        Checkpoint.Save(dir, parameters);
        return dir;
    }
}
