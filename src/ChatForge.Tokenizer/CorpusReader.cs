using System.Text;

namespace ChatForge.Tokenizer;

/// <summary>
/// Reads training text as blocks of about <see cref="BlockChars"/> characters for parallel pre-splitting.
/// Text is passed on exactly as written (blank lines and line endings included, since "\n\n" is a token
/// worth learning). A block ends at a file boundary or, inside a file, preferably after a blank line
/// (the usual document separator), else after a line break: pre-split chunks then never span two
/// documents, and a one-document-per-file corpus is handled the same way.
/// </summary>
public static class CorpusReader
{
    public const int BlockChars = 1 << 20;

    // Invalid UTF-8 becomes U+FFFD instead of an exception: one bad byte must not lose a 50 MB corpus.
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>The files named, with folders expanded to their *.txt files (recursively, in ordinal order).</summary>
    public static IReadOnlyList<string> ExpandInputs(IEnumerable<string> inputs)
    {
        var files = new List<string>();
        foreach (string input in inputs)
        {
            if (Directory.Exists(input))
            {
                var found = Directory.GetFiles(input, "*.txt", SearchOption.AllDirectories);
                Array.Sort(found, StringComparer.Ordinal);
                if (found.Length == 0) throw new FileNotFoundException($"Input folder {input} contains no .txt files.", input);
                files.AddRange(found);
            }
            else if (File.Exists(input))
            {
                files.Add(input);
            }
            else
            {
                throw new FileNotFoundException($"Input {input} is neither a file nor a folder.", input);
            }
        }
        if (files.Count == 0) throw new ArgumentException("No input files were given.", nameof(inputs));
        return files;
    }

    /// <summary>Blocks of text from the files, in order; <paramref name="bytesRead"/> is told each file's size once it is read.</summary>
    public static IEnumerable<string> ReadBlocks(IReadOnlyList<string> files, Action<long>? bytesRead = null, int blockChars = BlockChars)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockChars, 2);
        var buffer = new char[blockChars];
        foreach (string file in files)
        {
            using var reader = new StreamReader(file, Utf8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
            int filled = 0;
            while (true)
            {
                int n = reader.ReadBlock(buffer, filled, buffer.Length - filled);
                filled += n;
                if (filled == 0) break;
                bool endOfFile = n == 0 || filled < buffer.Length;
                int cut = endOfFile ? filled : CutPoint(buffer.AsSpan(0, filled));
                yield return new string(buffer, 0, cut);
                Array.Copy(buffer, cut, buffer, 0, filled - cut);
                filled -= cut;
                if (endOfFile && filled == 0) break;
            }
            bytesRead?.Invoke(new FileInfo(file).Length);
        }
    }

    /// <summary>Where to end a full buffer: after the last blank line, else after the last line break, else (one giant line) at a character boundary.</summary>
    internal static int CutPoint(ReadOnlySpan<char> text)
    {
        int half = text.Length / 2;
        int blank = text.LastIndexOf("\n\n");
        if (blank >= half) return blank + 2;
        int newline = text.LastIndexOf('\n');
        if (newline >= half) return newline + 1;
        int cut = text.Length;
        // Never split a surrogate pair across blocks.
        if (char.IsHighSurrogate(text[cut - 1])) cut--;
        return cut;
    }
}
