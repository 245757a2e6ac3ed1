using ChatForge.Engine.Training;

namespace ChatForge.Engine.Tests.Training;

public class TokenShardTests
{
    [Theory]
    [InlineData(300)]
    [InlineData(65536)]
    [InlineData(100_000)]
    public void Tokens_round_trip_through_the_memory_map(int vocab)
    {
        using var dir = new TempDir();
        var tokens = Enumerable.Range(0, 1000).Select(i => (i * 7919) % vocab).ToArray();
        TokenShard.Write(dir.File("a.bin"), tokens, vocab);
        using var shard = TokenShard.Open(dir.File("a.bin"));
        Assert.Equal(1000, shard.Count);
        Assert.Equal(vocab <= 65536 ? 2 : 4, shard.BytesPerToken);
        var read = new int[10];
        shard.Read(990, read);
        Assert.Equal(tokens[990..], read);
        Assert.Equal(tokens[0], shard[0]);
    }

    [Fact]
    public void Corrupted_or_truncated_shards_fail_naming_the_file()
    {
        using var dir = new TempDir();
        TokenShard.Write(dir.File("a.bin"), new[] { 1, 2, 3 }, 10);
        var bytes = File.ReadAllBytes(dir.File("a.bin"));

        File.WriteAllBytes(dir.File("trunc.bin"), bytes[..^1]);
        Assert.Contains("trunc.bin: truncated", Assert.Throws<InvalidDataException>(() => TokenShard.Open(dir.File("trunc.bin"))).Message);

        File.WriteAllBytes(dir.File("short.bin"), bytes[..5]);
        Assert.Contains("short.bin: truncated", Assert.Throws<InvalidDataException>(() => TokenShard.Open(dir.File("short.bin"))).Message);

        var badMagic = (byte[])bytes.Clone(); badMagic[0] = (byte)'X';
        File.WriteAllBytes(dir.File("magic.bin"), badMagic);
        Assert.Contains("bad magic", Assert.Throws<InvalidDataException>(() => TokenShard.Open(dir.File("magic.bin"))).Message);

        var outOfVocab = (byte[])bytes.Clone(); outOfVocab[TokenShard.HeaderSize] = 200;
        File.WriteAllBytes(dir.File("vocab.bin"), outOfVocab);
        using var shard = TokenShard.Open(dir.File("vocab.bin"));
        Assert.Contains("outside the vocabulary", Assert.Throws<InvalidDataException>(() => shard.Read(0, new int[3])).Message);

        Assert.Throws<FileNotFoundException>(() => TokenShard.Open(dir.File("missing.bin")));
        Assert.Throws<ArgumentException>(() => TokenShard.Write(dir.File("x.bin"), new[] { 10 }, 10));
    }
}
