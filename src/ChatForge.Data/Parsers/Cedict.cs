using System.Text.RegularExpressions;
using ChatForge.Data.Sources;

namespace ChatForge.Data.Parsers;

public sealed record CedictEntry(string Traditional, string Simplified, string Pinyin, IReadOnlyList<string> Glosses)
{
    /// <summary>The dictionary line the corpus uses: "苹果 (ping2 guo3): apple; ...".</summary>
    public string ToCorpusLine() => $"{Simplified} ({Pinyin}): {string.Join("; ", Glosses)}";
}

/// <summary>CC-CEDICT lines: "Traditional Simplified [pin1 yin1] /gloss 1/gloss 2/"; '#' lines are comments.</summary>
public static partial class Cedict
{
    [GeneratedRegex(@"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")] private static partial Regex Line();

    public static List<CedictEntry> Parse(IEnumerable<string> lines, string fileName)
    {
        var entries = new List<CedictEntry>();
        int n = 0, bad = 0;
        foreach (var line in lines)
        {
            n++;
            if (line.Length == 0 || line[0] == '#') continue;
            var m = Line().Match(line);
            if (!m.Success)
            {
                // A handful of malformed lines is tolerable; a file of them is not a CEDICT file.
                if (++bad > 10 + entries.Count / 100)
                    throw new DataSourceException($"{fileName}: line {n} is not a CC-CEDICT entry (\"{(line.Length > 60 ? line[..60] + "…" : line)}\"); corrupt or not CEDICT.");
                continue;
            }
            var glosses = m.Groups[4].Value.Split('/', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            entries.Add(new CedictEntry(m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value, glosses));
        }
        if (entries.Count == 0) throw new DataSourceException($"{fileName}: no CC-CEDICT entries found (empty or truncated file).");
        return entries;
    }

    public static List<CedictEntry> Load(string path) =>
        File.Exists(path) ? Parse(File.ReadLines(path), path) : throw new DataSourceException($"{path}: CC-CEDICT file not found; run `data fetch`.");

    [GeneratedRegex(@"\s*\b(CL|Tw|TW|lit\.|fig\.|abbr\. for)\b.*$|\(.*?\)|\[.*?\]")] private static partial Regex Noise();

    /// <summary>
    /// Glosses usable as a short answer: no "variant of", surnames, classifiers or cross references, bracketed remarks removed,
    /// "to " dropped from verbs only when asked for (a dictionary keeps "to eat").
    /// </summary>
    public static List<string> AnswerGlosses(CedictEntry e)
    {
        var result = new List<string>();
        foreach (var g in e.Glosses)
        {
            if (g.StartsWith("CL:") || g.Contains("variant of") || g.StartsWith("surname ") || g.StartsWith("see ") || g.StartsWith("see also")
                || g.Contains("used in ") || g.StartsWith("abbr.") || g.Contains('|') || g.StartsWith("(") && g.EndsWith(")")) continue;
            var clean = Regex.Replace(g, @"\([^)]*\)", "").Trim();
            clean = Regex.Replace(clean, @"\s+", " ").Trim(' ', ',', ';');
            if (clean.Length < 2 || clean.Length > 40 || !clean.Any(char.IsLetter) || clean.Any(c => c > 0x2E80)) continue;
            if (!result.Contains(clean)) result.Add(clean);
        }
        return result;
    }

    /// <summary>Pinyin with tone marks ("ping2 guo3" → "píng guǒ") for readable answers.</summary>
    public static string ToneMarks(string numbered)
    {
        var syllables = numbered.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return string.Join(' ', syllables.Select(Syllable));
    }

    static string Syllable(string s)
    {
        if (s.Length < 2 || !char.IsDigit(s[^1])) return s.Replace("u:", "ü");
        int tone = s[^1] - '0';
        var body = s[..^1].Replace("u:", "ü").Replace("v", "ü");
        if (tone is < 1 or > 4) return body;
        // Tone mark goes on a or e; on the o of "ou"; otherwise on the last vowel.
        int pos = body.IndexOfAny(['a', 'e', 'A', 'E']);
        if (pos < 0) pos = body.IndexOf("ou", StringComparison.OrdinalIgnoreCase);
        if (pos < 0) pos = body.LastIndexOfAny(['i', 'o', 'u', 'ü', 'I', 'O', 'U', 'Ü']);
        if (pos < 0) return body;
        const string plain = "aeiouüAEIOUÜ";
        string[] marks = ["āáǎà", "ēéěè", "īíǐì", "ōóǒò", "ūúǔù", "ǖǘǚǜ", "ĀÁǍÀ", "ĒÉĚÈ", "ĪÍǏÌ", "ŌÓǑÒ", "ŪÚǓÙ", "ǕǗǙǛ"];
        int v = plain.IndexOf(body[pos]);
        return body[..pos] + marks[v][tone - 1] + body[(pos + 1)..];
    }
}
