namespace ChatForge.Tokenizer;

/// <summary>
/// Special tokens take the ids right after the last rank: &lt;|endoftext|&gt;, &lt;|im_start|&gt;, &lt;|im_end|&gt;,
/// then &lt;|reserved_0|&gt;, &lt;|reserved_1|&gt;… up to the slot count (room for tool calls and the like later
/// without resizing a trained model's embedding table). They are never produced by encoding text.
/// </summary>
public static class SpecialTokens
{
    public const string EndOfText = "<|endoftext|>";
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";
    public const int DefaultSlots = 16;

    public static readonly IReadOnlyList<string> Required = [EndOfText, ImStart, ImEnd];

    /// <summary>Names and ids of <paramref name="slots"/> special tokens placed after <paramref name="rankCount"/> ranks.</summary>
    public static Dictionary<string, int> Layout(int rankCount, int slots)
    {
        if (slots < Required.Count) throw new ArgumentOutOfRangeException(nameof(slots), slots, $"At least {Required.Count} special token slots are needed.");
        var tokens = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < slots; i++)
            tokens.Add(i < Required.Count ? Required[i] : $"<|reserved_{i - Required.Count}|>", rankCount + i);
        return tokens;
    }
}
