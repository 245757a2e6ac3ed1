using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;

namespace ChatForge.Server.Tests;

/// <summary>
/// A real model folder, built at test time the way a trained one looks: a byte-level BPE tokenizer trained
/// with BpeTrainer on a few KB of English and Chinese text, and a GPT-2–style Transformer (d 32, 2 layers)
/// with random weights saved by Checkpoint. One twist makes answers predictable: the final norm's weight is
/// zero and its bias points along one axis, so every position gets the same logits, read from column 0 of
/// the (tied) embedding. Single lowercase letters and space are likely, special tokens impossible: answers
/// are readable gibberish, one character per token, and always run to the length cap (which the Continue
/// tests need). The whole Transformer still runs on every step.
/// </summary>
internal static class TinyModel
{
    static readonly string[] Corpus =
    [
        "The quick brown fox jumps over the lazy dog. A chat model answers questions and keeps the context of the conversation.",
        "Users rate answers with a thumbs up or a thumbs down, and that feedback trains the next model version.",
        "你好，世界。这是一个聊天模型，它会记住对话的上下文，并在需要时继续回答。",
        "请继续。用户可以对回答点赞或点踩，并写下评论。",
        "def main():\n    print(\"hello\")\n    return 0\n",
    ];

    public static string Create(string dir, int seed = 1, int contextLength = 512)
    {
        var documents = Enumerable.Range(0, 20).SelectMany(i => Corpus.Select(t => t + " " + i));
        var tokenizer = BpeTrainer.Train(documents, new BpeTrainerOptions { VocabSize = 256 + 16 + 64, Threads = 1 }).ToTokenizer();
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
        for (int id = 0; id < config.VocabSize; id++)
        {
            var bytes = tokenizer.GetTokenBytes(id);
            bool likely = !tokenizer.IsSpecial(id) && bytes.Length == 1 && bytes[0] is >= (byte)'a' and <= (byte)'z' or (byte)' ';
            embedding[id * d] = tokenizer.IsSpecial(id) ? -30f : likely ? 6f + (float)rng.NextDouble() : -6f;
        }
        Checkpoint.Save(dir, parameters);
        tokenizer.Save(dir);
        return dir;
    }
}
