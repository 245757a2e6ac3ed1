using ChatForge.Engine.Training;

namespace ChatForge.Engine.Tests.Training;

/// <summary>Temporary pretraining data directories (train/*.bin, val/*.bin) for the loop tests.</summary>
internal sealed class TempRun : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "chatforge-test-" + Guid.NewGuid().ToString("N")[..10]);
    public string Data => Path.Combine(Root, "data");
    public string Run(string name = "run") => Path.Combine(Root, name);

    public TempRun() => Directory.CreateDirectory(Root);

    /// <summary>Writes train/val shards; train is split into two shards so multi-shard sampling is exercised.</summary>
    public void WriteShards(int[] train, int[] val, int vocab)
    {
        Directory.CreateDirectory(Path.Combine(Data, "train"));
        Directory.CreateDirectory(Path.Combine(Data, "val"));
        int half = train.Length / 2;
        TokenShard.Write(Path.Combine(Data, "train", "000.bin"), train.AsSpan(0, half), vocab);
        TokenShard.Write(Path.Combine(Data, "train", "001.bin"), train.AsSpan(half), vocab);
        TokenShard.Write(Path.Combine(Data, "val", "000.bin"), val, vocab);
    }

    /// <summary>Tokens with learnable structure: a repeating pattern with noise.</summary>
    public static int[] PatternTokens(int count, int vocab, ulong seed)
    {
        var rng = new SplitMix64(seed);
        var tokens = new int[count];
        for (int i = 0; i < count; i++) tokens[i] = rng.NextDouble() < 0.1 ? (int)rng.NextInt64(vocab) : (i * 7 + i / 13) % vocab;
        return tokens;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
