using ChatForge.Server.Http;

namespace ChatForge.Server.Chat;

public static class Validation
{
    /// <summary>Rejects text that is not well-formed Unicode (lone surrogates, from \uD800-style escapes) or carries NUL.</summary>
    public static void EnsureText(string text, string field)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\0') throw ApiException.BadRequest($"The field '{field}' contains a NUL character.", field);
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (char.IsSurrogate(c)) throw ApiException.BadRequest($"The field '{field}' is not valid Unicode (unpaired surrogate at index {i}).", field);
        }
    }

    public static string? OptionalText(string? text, string field, int maxChars)
    {
        if (text is null) return null;
        if (text.Length > maxChars) throw ApiException.TooLarge($"The field '{field}' has {text.Length} characters; the limit is {maxChars}.", field);
        EnsureText(text, field);
        return text;
    }
}
