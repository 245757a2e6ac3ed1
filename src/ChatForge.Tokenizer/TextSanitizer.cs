using System.Text;

namespace ChatForge.Tokenizer;

/// <summary>
/// A .NET string may hold lone UTF-16 surrogates, which have no UTF-8 form. Before encoding, each lone
/// surrogate is replaced by U+FFFD (what Encoding.UTF8 itself does), so every string maps to ids
/// deterministically and decode(encode(x)) == x holds for every valid string.
/// </summary>
public static class TextSanitizer
{
    public const char Replacement = '\uFFFD';

    /// <summary>The text with every lone surrogate replaced by U+FFFD; the same instance when there is none.</summary>
    public static string ReplaceLoneSurrogates(string text)
    {
        int first = IndexOfLoneSurrogate(text);
        if (first < 0) return text;
        var sb = new StringBuilder(text.Length);
        sb.Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(c).Append(text[i + 1]);
                i++;
            }
            else
            {
                sb.Append(char.IsSurrogate(c) ? Replacement : c);
            }
        }
        return sb.ToString();
    }

    /// <summary>Index of the first lone surrogate, or -1 when the string is valid UTF-16.</summary>
    public static int IndexOfLoneSurrogate(ReadOnlySpan<char> text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (!char.IsSurrogate(c)) continue;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            return i;
        }
        return -1;
    }
}
