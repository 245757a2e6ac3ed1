using System.Text;
using Microsoft.ML.Tokenizers;

namespace ChatForge.Tokenizer;

/// <summary>One tokenizer's compression of one text: UTF-8 bytes per token (higher = fewer tokens for the same text).</summary>
public sealed record CompressionStat(string Tokenizer, int VocabSize, string Text, long Bytes, long Tokens)
{
    public double BytesPerToken => Tokens == 0 ? 0 : (double)Bytes / Tokens;
}

/// <summary>Measures our tokenizer against OpenAI's cl100k_base and o200k_base (Microsoft.ML.Tokenizers.Data packages).</summary>
public static class TokenizerComparison
{
    /// <summary>The reference encodings by name, with their vocabulary sizes (ranks + special tokens as published).</summary>
    public static IReadOnlyList<(string Name, int VocabSize, Func<string, int> CountTokens)> References()
    {
        var cl100k = TiktokenTokenizer.CreateForEncoding("cl100k_base");
        var o200k = TiktokenTokenizer.CreateForEncoding("o200k_base");
        return
        [
            ("cl100k_base", 100277, t => cl100k.CountTokens(t, considerPreTokenization: true, considerNormalization: false)),
            ("o200k_base", 200019, t => o200k.CountTokens(t, considerPreTokenization: true, considerNormalization: false)),
        ];
    }

    public static CompressionStat Measure(string tokenizer, int vocabSize, Func<string, int> countTokens, string textName, string text) =>
        new(tokenizer, vocabSize, textName, Encoding.UTF8.GetByteCount(text), countTokens(text));
}
