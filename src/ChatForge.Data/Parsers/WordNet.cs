using ChatForge.Data.Sources;

namespace ChatForge.Data.Parsers;

public sealed record WordNetPointer(string Symbol, string Offset, char Pos, int Source, int Target);

public sealed record Synset(string Offset, char Pos, IReadOnlyList<string> Lemmas, string Definition, IReadOnlyList<string> Examples, IReadOnlyList<WordNetPointer> Pointers)
{
    public string Key => $"{Pos}{Offset}";
}

/// <summary>
/// WordNet database files (data.noun/verb/adj/adv: one synset per line, "offset lex_filenum ss_type w_cnt word lex_id …
/// p_cnt pointers … | gloss"; licence header lines start with two spaces) and index.sense for sense frequencies.
/// </summary>
public static class WordNet
{
    public static List<Synset> ParseData(IEnumerable<string> lines, string fileName)
    {
        var result = new List<Synset>();
        int n = 0;
        foreach (var line in lines)
        {
            n++;
            if (line.Length == 0 || line.StartsWith("  ")) continue;
            try { result.Add(ParseLine(line)); }
            catch (Exception e) when (e is FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                throw new DataSourceException($"{fileName}: line {n} is not a WordNet synset ({e.Message}); corrupt or truncated file.", e);
            }
        }
        if (result.Count == 0) throw new DataSourceException($"{fileName}: no WordNet synsets found (empty or truncated file).");
        return result;
    }

    static Synset ParseLine(string line)
    {
        int bar = line.IndexOf(" | ", StringComparison.Ordinal);
        if (bar < 0) throw new FormatException("no ' | ' before the gloss");
        var f = line[..bar].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string offset = f[0];
        char pos = f[2][0] == 's' ? 'a' : f[2][0];
        int wCnt = Convert.ToInt32(f[3], 16);
        var lemmas = new List<string>();
        int i = 4;
        for (int w = 0; w < wCnt; w++, i += 2)
        {
            var lemma = f[i];
            int paren = lemma.IndexOf('(');
            if (paren > 0) lemma = lemma[..paren]; // adjective markers like "(a)"
            lemmas.Add(lemma.Replace('_', ' '));
        }
        int pCnt = int.Parse(f[i++]);
        var pointers = new List<WordNetPointer>();
        for (int p = 0; p < pCnt; p++, i += 4)
        {
            var st = f[i + 3];
            pointers.Add(new WordNetPointer(f[i], f[i + 1], f[i + 2][0] == 's' ? 'a' : f[i + 2][0], Convert.ToInt32(st[..2], 16), Convert.ToInt32(st[2..], 16)));
        }
        var gloss = line[(bar + 3)..].Trim();
        var parts = SplitGloss(gloss);
        var definition = parts.Count > 0 ? parts[0] : gloss;
        var examples = parts.Skip(1).Where(p => p.StartsWith('"')).Select(p => p.Trim('"')).ToList();
        return new Synset(offset, pos, lemmas, definition, examples, pointers);
    }

    /// <summary>Splits "definition; "example 1"; "example 2"" at semicolons outside quotes.</summary>
    static List<string> SplitGloss(string gloss)
    {
        var parts = new List<string>();
        bool quoted = false;
        int start = 0;
        for (int k = 0; k < gloss.Length; k++)
        {
            if (gloss[k] == '"') quoted = !quoted;
            else if (gloss[k] == ';' && !quoted) { parts.Add(gloss[start..k].Trim()); start = k + 1; }
        }
        parts.Add(gloss[start..].Trim());
        // A definition may itself contain "; " clauses before the first example: keep them with the definition.
        int firstExample = parts.FindIndex(p => p.StartsWith('"'));
        if (firstExample > 1) { parts[0] = string.Join("; ", parts.Take(firstExample)); parts.RemoveRange(1, firstExample - 1); }
        return parts.Where(p => p.Length > 0).ToList();
    }

    /// <summary>index.sense lines "lemma%ss_type:lex:id:head:head_id offset sense_number tag_cnt" → tagged frequency per (lemma, synset).</summary>
    public static Dictionary<(string Lemma, string SynsetKey), (int Sense, int Count)> ParseSenseIndex(IEnumerable<string> lines, string fileName)
    {
        var result = new Dictionary<(string, string), (int, int)>();
        int n = 0;
        foreach (var line in lines)
        {
            n++;
            var f = line.Split(' ');
            int pct = f[0].IndexOf('%');
            if (f.Length != 4 || pct <= 0 || f[0].Length < pct + 2)
                throw new DataSourceException($"{fileName}: line {n} is not a WordNet sense index entry (\"{(line.Length > 60 ? line[..60] : line)}\").");
            char pos = f[0][pct + 1] switch { '1' => 'n', '2' => 'v', '3' or '5' => 'a', '4' => 'r', _ => '?' };
            result[(f[0][..pct].Replace('_', ' '), $"{pos}{f[1]}")] = (int.Parse(f[2]), int.Parse(f[3]));
        }
        if (result.Count == 0) throw new DataSourceException($"{fileName}: empty sense index (truncated file?).");
        return result;
    }
}
