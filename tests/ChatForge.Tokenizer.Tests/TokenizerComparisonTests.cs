namespace ChatForge.Tokenizer.Tests;

public sealed class TokenizerComparisonTests
{
    [Fact]
    public void Reference_encodings_load_and_count_tokens()
    {
        var references = TokenizerComparison.References();
        Assert.Equal(["cl100k_base", "o200k_base"], references.Select(r => r.Name));
        foreach (var (name, vocabSize, count) in references)
        {
            Assert.Equal(2, count("hello world"));
            var stat = TokenizerComparison.Measure(name, vocabSize, count, "en", "hello world");
            Assert.Equal(11, stat.Bytes);
            Assert.Equal(5.5, stat.BytesPerToken);
        }
    }

    [Fact]
    public void Measure_counts_utf8_bytes_not_chars()
    {
        var tokenizer = ByteTokenizer.Create();
        var stat = TokenizerComparison.Measure("bytes", tokenizer.VocabSize, t => tokenizer.Encode(t).Length, "zh", "你好");
        Assert.Equal(6, stat.Bytes);
        Assert.Equal(6, stat.Tokens);
        Assert.Equal(1.0, stat.BytesPerToken);
    }
}
