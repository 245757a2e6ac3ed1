using System.Text;
using System.Text.RegularExpressions;

namespace ChatForge.Data.Text;

/// <summary>
/// Cleaning shared by every source: terminal colour codes, markup (reST, roff), editorial notes in poems,
/// gap marks, and whitespace. Each method does one thing so the build can pick what a source needs.
/// </summary>
public static partial class TextCleaner
{
    [GeneratedRegex(@"\x1B\[[0-9;?]*[ -/]*[@-~]|\x1B[@-Z\\-_]")] private static partial Regex Ansi();
    public static string StripAnsi(string s) => Ansi().Replace(s, "");

    /// <summary>Collapses runs of spaces/tabs, trims each line, and keeps at most one blank line between paragraphs.</summary>
    public static string NormalizeWhitespace(string s)
    {
        var sb = new StringBuilder(s.Length);
        int blank = 0;
        foreach (var raw in s.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n'))
        {
            var line = SpaceRun().Replace(raw.Replace('\u3000', ' ').Replace('\u00A0', ' '), " ").Trim();
            if (line.Length == 0) { blank++; continue; }
            if (sb.Length > 0) sb.Append(blank > 0 ? "\n\n" : "\n");
            blank = 0;
            sb.Append(line);
        }
        return sb.ToString();
    }
    [GeneratedRegex(@"[ \t\f\v]+")] private static partial Regex SpaceRun();

    // Editorial notes in chinese-poetry: "（明年 一作：年年）", "(唯 通：惟)", sometimes split across lines or with mismatched brackets.
    [GeneratedRegex(@"[（(][^（()）]{0,80}?[)）]", RegexOptions.Singleline)] private static partial Regex Bracketed();
    [GeneratedRegex(@"[（(][^（()）]{0,40}$", RegexOptions.Multiline)] private static partial Regex Unclosed();
    [GeneratedRegex(@"^[^（()）\n]{0,40}[)）]", RegexOptions.Multiline)] private static partial Regex Unopened();
    [GeneratedRegex(@"^\s*[一又]作[：:][^\n]*$", RegexOptions.Multiline)] private static partial Regex VariantLine();
    // Gaps: □ for a lost character, {…} for an uncertain reading; a line containing them is unreliable.
    [GeneratedRegex(@"[□■〇]|\{[^}]*\}|\[[^\]]*\]")] private static partial Regex Gap();

    /// <summary>Removes bracketed notes (一作/通/注 …) from poem text joined with '\n' between lines.</summary>
    public static string StripPoemNotes(string text)
    {
        var s = Bracketed().Replace(text, "");
        s = Bracketed().Replace(s, "");
        s = VariantLine().Replace(s, "");
        s = Unclosed().Replace(s, "");
        s = Unopened().Replace(s, "");
        return s;
    }

    public static bool HasGap(string s) => Gap().IsMatch(s);

    // reST: directives and their options, roles (:class:`str` → str), substitutions, section underlines, comments.
    [GeneratedRegex(@"^\.\. [\w:-]+::.*$|^\.\. _[^:]*:.*$|^\.\. \|.*$|^\s+:[\w -]+:.*$", RegexOptions.Multiline)] private static partial Regex RstDirective();
    [GeneratedRegex(@":[\w:+-]+:`(?:[^`<]*<([^`>]*)>|~?!?([^`]*))`")] private static partial Regex RstRole();
    [GeneratedRegex(@"^([=\-~`#""^+*.:_'])\1{3,}\s*$", RegexOptions.Multiline)] private static partial Regex RstUnderline();
    [GeneratedRegex(@"`([^`<]+?)\s*<[^`>]+>`_+")] private static partial Regex RstLink();
    [GeneratedRegex(@"``([^`]+)``")] private static partial Regex RstLiteral();
    [GeneratedRegex(@"(?<![\w*])\*\*?([^*\n]+?)\*\*?(?![\w*])")] private static partial Regex RstEmphasis();
    [GeneratedRegex(@"`([^`]+)`_*")] private static partial Regex RstInterpreted();

    public static string StripRst(string s)
    {
        s = RstDirective().Replace(s, "");
        s = RstRole().Replace(s, m => m.Groups[1].Success && m.Groups[1].Length > 0 ? m.Groups[1].Value : m.Groups[2].Value);
        s = RstUnderline().Replace(s, "");
        s = RstLink().Replace(s, "$1");
        s = RstLiteral().Replace(s, "$1");
        s = RstEmphasis().Replace(s, "$1");
        s = RstInterpreted().Replace(s, "$1");
        s = s.Replace("::\n", ":\n");
        return s;
    }

    // roff: comments, requests (.TH, .SH …), font escapes (\fB … \fR), special characters (\-, \(em, \e, \&).
    [GeneratedRegex(@"^\.\\"".*$|^'\\"".*$", RegexOptions.Multiline)] private static partial Regex RoffComment();
    [GeneratedRegex(@"^[.'](SH|SS)\s+""?([^""\n]*)""?\s*$", RegexOptions.Multiline)] private static partial Regex RoffSection();
    [GeneratedRegex(@"^[.'](B|I|BI|BR|IR|RB|RI|IB|SM|SB)\s+(.*)$", RegexOptions.Multiline)] private static partial Regex RoffFontLine();
    [GeneratedRegex(@"^[.'][A-Za-z]{1,3}\b.*$", RegexOptions.Multiline)] private static partial Regex RoffRequest();
    [GeneratedRegex(@"\\f(\[[^\]]*\]|\(..|.)")] private static partial Regex RoffFont();
    [GeneratedRegex(@"\\\((..)|\\\[([^\]]*)\]")] private static partial Regex RoffSpecial();
    [GeneratedRegex(@"\\s[+-]?\d|\\[&|^%:!,/]|\\\*\(..|\\\*.|\\[hvwnkz](\[[^\]]*\]|'[^']*'|.)?")] private static partial Regex RoffMisc();

    public static string StripRoff(string s)
    {
        s = RoffComment().Replace(s, "");
        s = RoffSection().Replace(s, "\n$2");
        s = RoffFontLine().Replace(s, m => m.Groups[2].Value.Replace("\"", ""));
        s = RoffRequest().Replace(s, "");
        s = RoffFont().Replace(s, "");
        s = RoffSpecial().Replace(s, m => (m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value) switch
        {
            "em" or "en" => "—", "bu" => "•", "co" => "©", "lq" or "rq" => "\"", "aq" => "'", "ga" => "`", "ti" => "~", "hy" => "-",
            _ => "",
        });
        s = RoffMisc().Replace(s, "");
        s = s.Replace("\\-", "-").Replace("\\e", "\\").Replace("\\ ", " ").Replace("\\~", " ").Replace("\\\\", "\\");
        return s;
    }

    /// <summary>Text that is mostly readable characters (rejects binary junk and mojibake).</summary>
    public static bool LooksLikeText(string s)
    {
        if (s.Length == 0) return false;
        int bad = 0;
        foreach (var c in s) if (c == '\uFFFD' || (char.IsControl(c) && c != '\n' && c != '\t')) bad++;
        return bad * 100 < s.Length;
    }

    /// <summary>Counts CJK ideographs (for the Chinese/English balance and the language of a prompt).</summary>
    public static int CountHan(string s)
    {
        int n = 0;
        foreach (var c in s) if (c is >= '\u4E00' and <= '\u9FFF' or >= '\u3400' and <= '\u4DBF') n++;
        return n;
    }
}
