namespace ChatForge.Tokenizer.Tests;

/// <summary>One small tokenizer trained once per test class that needs real merges (a 2,000-token vocabulary).</summary>
public sealed class TrainedTokenizerFixture
{
    public ChatTokenizer Tokenizer { get; }
    public BpeTrainingResult Training { get; }

    public TrainedTokenizerFixture()
    {
        Training = BpeTrainer.Train([TestText.Corpus(seed: 1, sentences: 6000)], new BpeTrainerOptions { VocabSize = 2000 });
        Tokenizer = Training.ToTokenizer();
    }
}

internal static class ByteTokenizer
{
    /// <summary>A tokenizer with no merges: token id = byte value, specials from 256 on. Makes ids easy to check by hand.</summary>
    public static ChatTokenizer Create() => ChatTokenizer.Create(Enumerable.Range(0, 256).Select(b => new[] { (byte)b }).ToArray(), PreSplitPatterns.Default);
}
