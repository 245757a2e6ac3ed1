using System.Text.RegularExpressions;

namespace ChatForge.Tokenizer;

/// <summary>
/// Regular expressions that cut text into chunks before BPE (merges never cross a chunk boundary).
/// All are the GPT-4 (cl100k_base) pattern rewritten for .NET: atomic groups <c>(?&gt;…)</c> stand in for
/// the possessive quantifiers .NET lacks. Two deliberate changes:
/// <list type="bullet">
/// <item>Every run is capped at <see cref="MaxRun"/> characters. BPE encoding of one chunk costs time
/// quadratic in its length (an 8,000-character Han run took 1.8 s in Microsoft.ML.Tokenizers), so an
/// uncapped pattern lets one long line stall the server. Natural words are far shorter than the cap.</item>
/// <item>How Han text is cut is a choice measured in docs/tokenizer.md; <see cref="Default"/> is the winner.</item>
/// </list>
/// </summary>
public static class PreSplitPatterns
{
    public const int MaxRun = 64;

    // Han ideographs in the Basic Multilingual Plane (CJK Unified, Extension A, Compatibility). Planes 1+
    // (Extension B…) arrive as UTF-16 surrogate pairs, which .NET regex sees as \p{Cs}, i.e. "other".
    private const string Han = @"\p{IsCJKUnifiedIdeographs}\p{IsCJKUnifiedIdeographsExtensionA}\p{IsCJKCompatibilityIdeographs}";

    private static readonly string Tail =
        @"|(?>\p{N}{1,3})" +
        @"| ?(?>[^\s\p{L}\p{N}]{1,64})(?>[\r\n]{0,64})" +
        @"|(?>\s{1,64})$" +
        @"|\s{0,64}[\r\n]" +
        @"|\s{1,64}(?!\S)" +
        @"|\s";

    private const string Contractions = "'(?i:[sdmt]|ll|ve|re)";

    /// <summary>cl100k_base's treatment: Han characters are letters, so a Han run may take one leading punctuation mark ("，床前明月光").</summary>
    public static readonly string HanRunsWithPunctuation =
        Contractions + @"|(?>[^\r\n\p{L}\p{N}]?)(?>\p{L}{1,64})" + Tail;

    /// <summary>Han runs take one leading punctuation mark or space like cl100k ("，床前明月光", " 模型") but are never glued to Latin letters ("使用", "Python").</summary>
    public static readonly string HanRunsWithPrefix =
        Contractions +
        @"|(?>[^\r\n\p{L}\p{N}]?)(?>[" + Han + "]{1,64})" +
        @"|(?>[^\r\n\p{L}\p{N}]?)(?>[\p{L}-[" + Han + "]]{1,64})" + Tail;

    /// <summary>Han runs are chunks of their own, never glued to punctuation or to Latin letters.</summary>
    public static readonly string HanRuns = HanPieces(MaxRun);

    /// <summary>Han runs cut into pieces of at most <paramref name="maxChars"/> characters (1 = every character alone).</summary>
    public static string HanPieces(int maxChars)
    {
        if (maxChars is < 1 or > MaxRun) throw new ArgumentOutOfRangeException(nameof(maxChars), maxChars, $"Han pieces are 1..{MaxRun} characters.");
        return Contractions +
            "|(?>[" + Han + "]{1," + maxChars + "})" +
            @"|(?>[^\r\n\p{L}\p{N}]?)(?>[\p{L}-[" + Han + "]]{1,64})" + Tail;
    }

    /// <summary>The pattern new tokenizers are trained with (see docs/tokenizer.md for the comparison).</summary>
    public static readonly string Default = HanRunsWithPrefix;

    /// <summary>Named variants, for the <c>--pattern</c> option; anything else is taken as a regex.</summary>
    public static string FromName(string nameOrPattern) => nameOrPattern switch
    {
        "default" => Default,
        "han-runs-punct" => HanRunsWithPunctuation,
        "han-runs" => HanRuns,
        "han-runs-prefix" => HanRunsWithPrefix,
        _ when nameOrPattern.StartsWith("han-", StringComparison.Ordinal) && int.TryParse(nameOrPattern.AsSpan(4), out int n) => HanPieces(n),
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
