using System.Text;

namespace ChatForge.Tokenizer;

/// <summary>
/// The tiktoken rank file: one token per line, "base64(bytes) rank", ranks 0, 1, 2… in order
/// (the format of OpenAI's cl100k_base.tiktoken, read by Microsoft.ML.Tokenizers' TiktokenTokenizer).
/// Parsed here first so that a damaged file is reported with its line, which the library cannot do.
/// </summary>
public static class TiktokenRankFile
{
    /// <summary>Parses and validates the file's bytes; <paramref name="path"/> is used in error messages.</summary>
    public static byte[][] Parse(byte[] content, string path)
    {
        string text;
        try { text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(content); }
        catch (DecoderFallbackException ex) { throw new TokenizerFileException(path, LineOfByte(content, ex.Index), "not valid UTF-8 text", ex); }
        if (text.Length == 0) throw new TokenizerFileException(path, null, "the rank file is empty");

        var ranks = new List<byte[]>();
        var lineOfBytes = new Dictionary<string, int>(StringComparer.Ordinal);
        int lineNumber = 0, firstEmptyLine = 0;
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            lineNumber++;
            // Empty lines are tolerated at the end of the file only (a trailing newline makes one).
            if (line.Length == 0) { if (firstEmptyLine == 0) firstEmptyLine = lineNumber; continue; }
            if (firstEmptyLine != 0)
                throw new TokenizerFileException(path, firstEmptyLine, "empty line (expected \"<base64 token bytes> <rank>\")");
            int space = line.IndexOf(' ');
            if (space <= 0 || space != line.LastIndexOf(' ') || space == line.Length - 1)
                throw new TokenizerFileException(path, lineNumber, $"expected \"<base64 token bytes> <rank>\", found \"{Shorten(line)}\"");

            var base64 = line[..space];
            byte[] buffer = new byte[base64.Length];
            if (!Convert.TryFromBase64Chars(base64, buffer, out int written) || written == 0)
                throw new TokenizerFileException(path, lineNumber, $"\"{Shorten(base64)}\" is not valid base64 token bytes");
            if (!int.TryParse(line[(space + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int rank))
                throw new TokenizerFileException(path, lineNumber, $"rank \"{Shorten(line[(space + 1)..])}\" is not a non-negative integer");
            if (rank != ranks.Count)
                throw new TokenizerFileException(path, lineNumber, $"expected rank {ranks.Count} (ranks must run 0, 1, 2… in order), found {rank}");

            byte[] token = buffer[..written];
            string key = Encoding.Latin1.GetString(token);
            if (lineOfBytes.TryGetValue(key, out int firstLine))
                throw new TokenizerFileException(path, lineNumber, $"token bytes {Convert.ToHexString(token)} already have a rank on line {firstLine}");
            lineOfBytes.Add(key, lineNumber);
            ranks.Add(token);
        }

        for (int b = 0; b < 256; b++)
        {
            if (!lineOfBytes.ContainsKey(((char)b).ToString()))
                throw new TokenizerFileException(path, null, $"byte 0x{b:X2} has no rank; all 256 single bytes need one so that any text can be encoded (truncated file?)");
        }
        return ranks.ToArray();
    }

    /// <summary>The file's text: one "base64 rank" line per token, newline-terminated.</summary>
    public static byte[] Format(IReadOnlyList<byte[]> ranks)
    {
        var sb = new StringBuilder(ranks.Count * 16);
        for (int i = 0; i < ranks.Count; i++)
            sb.Append(Convert.ToBase64String(ranks[i])).Append(' ').Append(i).Append('\n');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static int LineOfByte(byte[] content, int index) => content.AsSpan(0, Math.Clamp(index, 0, content.Length)).Count((byte)'\n') + 1;

    private static string Shorten(ReadOnlySpan<char> s) => s.Length <= 40 ? s.ToString() : s[..40].ToString() + "…";
}
