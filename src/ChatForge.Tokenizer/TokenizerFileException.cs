namespace ChatForge.Tokenizer;

/// <summary>A tokenizer file is missing or malformed. The message names the file and, where there is one, the line.</summary>
public sealed class TokenizerFileException : Exception
{
    public string FilePath { get; }
    /// <summary>1-based line the problem is on, or null when it concerns the whole file.</summary>
    public int? Line { get; }

    public TokenizerFileException(string filePath, int? line, string problem, Exception? inner = null)
        : base(line is null ? $"{filePath}: {problem}" : $"{filePath}, line {line}: {problem}", inner)
    {
        FilePath = filePath;
        Line = line;
    }
}
