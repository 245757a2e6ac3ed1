using System.Text.RegularExpressions;

namespace ChatForge.Tokenizer;

/// <summary>
/// Regular expressions that cut text into chunks before BPE (merges never cross a chunk boundary).
/// All are the GPT-4 (cl100k_base) pattern rewritten for .NET: atomic groups <c>(?&gt;…)</c> stand in for
/// the possessive quantifiers .NET lacks, so matching never backtracks and stays linear.
/// They differ only in how Han characters are cut; docs/tokenizer.md records the measurement that chose
/// <see cref="Default"/>.
/// </summary>
public static class PreSplitPatterns
{
    // Han ideographs in the Basic Multilingual Plane (CJK Unified, Extension A, Compatibility). Planes 1+
    // (Extension B…) arrive as UTF-16 surrogate pairs, which .NET regex sees as \p{Cs}, not letters.
    private const string Han = @"\p{IsCJKUnifiedIdeographs}\p{IsCJKUnifiedIdeographsExtensionA}\p{IsCJKCompatibilityIdeographs}";

    private const string Tail = @"|(?>\p{N}{1,3})| ?(?>[^\s\p{L}\p{N}]+)(?>[\r\n]*)|(?>\s+)$|\s*[\r\n]|\s+(?!\S)|\s";

    /// <summary>cl100k_base as is: a run of Han characters is a run of letters, and may take one leading punctuation mark ("，床前明月光").</summary>
    public const string HanRunsWithPunctuation =
        @"'(?i:[sdmt]|ll|ve|re)|(?>[^\r\n\p{L}\p{N}]?)(?>\p{L}+)" + Tail;

    /// <summary>Han runs are chunks of their own, never glued to punctuation or to Latin letters.</summary>
    public const string HanRuns = "'(?i:[sdmt]|ll|ve|re)|(?>[" + Han + "]+)|(?>[^\\r\\n\\p{L}\\p{N}]?)(?>[\\p{L}-[" + Han + "]]+)" + Tail;

    /// <summary>Han runs cut into pieces of at most <paramref name="maxChars"/> characters (1 = every character alone).</summary>
    public static string HanPieces(int maxChars)
    {
        if (maxChars < 1) throw new ArgumentOutOfRangeException(nameof(maxChars), maxChars, "Han pieces need at least one character.");
        return "'(?i:[sdmt]|ll|ve|re)|(?>[" + Han + "]{1," + maxChars + "})|(?>[^\\r\\n\\p{L}\\p{N}]?)(?>[\\p{L}-[" + Han + "]]+)" + Tail;
    }

    /// <summary>The pattern new tokenizers are trained with (see docs/tokenizer.md for the comparison).</summary>
    public static readonly string Default = HanRuns;

    /// <summary>Named variants, for the <c>bench tokenizer --pattern</c> comparison.</summary>
    public static string FromName(string nameOrPattern) => nameOrPattern switch
    {
        "default" => Default,
        "han-runs-punct" => HanRunsWithPunctuation,
        "han-runs" => HanRuns,
        "han-1" => HanPieces(1),
        "han-2" => HanPieces(2),
        "han-3" => HanPieces(3),
        "han-4" => HanPieces(4),
        _ => nameOrPattern,
    };

    /// <summary>Compiles a pattern, turning a syntax error into a message that shows the pattern.</summary>
    public static Regex Compile(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"Invalid pre-split pattern {pattern}: {ex.Message}", nameof(pattern), ex);
        }
    }
}
