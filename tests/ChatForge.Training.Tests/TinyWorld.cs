using ChatForge.Engine.Model;
using ChatForge.Tokenizer;

namespace ChatForge.Training.Tests;

/// <summary>A tiny real tokenizer (BPE trained on a few sentences) and tiny model configs, built once per test run.</summary>
public static class TinyWorld
{
    static readonly Lazy<ChatTokenizer> LazyTokenizer = new(() =>
    {
        var corpus = Enumerable.Range(0, 20).Select(i =>
            $"user asks question {i}. assistant answers yes or no. 你好，世界 {i}. The capital of France is Paris.").ToList();
        return BpeTrainer.Train(corpus, new BpeTrainerOptions { VocabSize = 400, MinFrequency = 2, Threads = 1 }).ToTokenizer();
    });

    public static ChatTokenizer Tokenizer => LazyTokenizer.Value;

    public static ModelConfig Config(bool scoreHead = false, int context = 96) =>
        ModelConfig.Gpt2Style(Tokenizer.VocabSize, dModel: 32, layers: 2, heads: 2, context: context) with { ScoreHead = scoreHead };

    public static IReadOnlyList<ChatMessage> Ask(string question) => [new(ChatRoles.User, question)];
}
