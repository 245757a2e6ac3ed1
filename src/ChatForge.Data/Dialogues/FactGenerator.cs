using ChatForge.Data.Build;
using ChatForge.Data.Parsers;
using ChatForge.Data.Text;

namespace ChatForge.Data.Dialogues;

/// <summary>Turns the knowledge domain into question/answer facts for every single-turn task, in both languages.</summary>
public static class FactGenerator
{
    public static List<Fact> All(Knowledge k)
    {
        var facts = new List<Fact>();
        facts.AddRange(Words(k));
        facts.AddRange(EnglishWords(k));
        facts.AddRange(Antonyms(k));
        facts.AddRange(CountryFacts(k));
        facts.AddRange(PoemFacts(k.PoemDomain));
        facts.AddRange(Arithmetic("zh", k.Domain));
        facts.AddRange(Arithmetic("en", k.Domain));
        return facts;
    }

    static Dictionary<string, string> D(params (string K, string V)[] kv) => kv.ToDictionary(x => x.K, x => x.V);

    static Fact F(string task, string lang, string key, string idTail, Dictionary<string, string> q, Dictionary<string, string> a, string slot,
        IEnumerable<string> accepted, Dictionary<string, string>? near) =>
        new(task, lang, key, $"{task}:{lang}:{idTail}", q, a, slot, accepted.Distinct().ToList(), near);

    /// <summary>Another word that shares a character: a plausible confusion for word tasks.</summary>
    static ZhWord? Neighbour(ZhWord w, Dictionary<char, List<ZhWord>> byChar, IReadOnlyCollection<string> accepted)
    {
        var rng = new StableRandom("neighbour:" + w.Word);
        var candidates = w.Word.SelectMany(c => byChar.GetValueOrDefault(c) ?? []).Where(o => o.Word != w.Word && !o.Glosses.Any(accepted.Contains)).Distinct().ToList();
        return candidates.Count == 0 ? null : candidates[rng.Next(candidates.Count)];
    }

    static IEnumerable<Fact> Words(Knowledge k)
    {
        var byChar = new Dictionary<char, List<ZhWord>>();
        foreach (var w in k.ZhWords) foreach (var c in w.Word.Distinct()) { if (!byChar.TryGetValue(c, out var l)) byChar[c] = l = []; l.Add(w); }
        var hskByGloss = k.ZhWords.SelectMany(w => w.Glosses.Select(g => (G: Knowledge.NormalizeGloss(g), w.Word))).GroupBy(x => x.G).ToDictionary(g => g.Key, g => g.Select(x => x.Word).Distinct().Count());
        foreach (var w in k.ZhWords)
        {
            string key = "zh:" + w.Word;
            var n = Neighbour(w, byChar, w.Glosses);
            var gloss = string.Join("; ", w.Glosses.Take(3));
            var q = D(("word", w.Word), ("pinyin", w.Pinyin));
            yield return F("word_meaning", "zh", key, w.Word, q, D(("gloss", gloss)), "gloss", w.Glosses, n is null ? null : D(("gloss", string.Join("; ", n.Glosses.Take(3)))));
            foreach (var lang in new[] { "zh", "en" })
                yield return F("translate_zh_en", lang, key, w.Word, q, D(("gloss", w.Glosses[0])), "gloss", w.Glosses, n is null ? null : D(("gloss", n.Glosses[0])));

            // English → Chinese only where the gloss names this one common word (else the question has several answers).
            var g = w.Glosses[0];
            var ng = Knowledge.NormalizeGloss(g);
            if (hskByGloss.GetValueOrDefault(ng) != 1 || ng.Split(' ').Length > 3 || !k.WordsByGloss.TryGetValue(ng, out var all)) continue;
            var nearWord = n is not null && !all.Contains(n.Word) ? D(("word", n.Word), ("pinyin", n.Pinyin)) : null;
            foreach (var lang in new[] { "zh", "en" })
                yield return F("translate_en_zh", lang, key, w.Word, D(("gloss", g)), D(("word", w.Word), ("pinyin", w.Pinyin)), "word", all, nearWord);
        }
    }

    static readonly Dictionary<char, string> PosName = new() { ['n'] = "noun", ['v'] = "verb", ['a'] = "adjective", ['r'] = "adverb" };

    static IEnumerable<Fact> EnglishWords(Knowledge k)
    {
        var byWord = k.EnWords.ToDictionary(w => w.Word);
        foreach (var w in k.EnWords)
        {
            // Near miss: the definition of its opposite (fluent, on topic, wrong).
            Dictionary<string, string>? near = k.EnAntonyms.TryGetValue(w.Word, out var opp) && byWord.TryGetValue(opp[0], out var o) && o.Definition != w.Definition
                ? D(("gloss", o.Definition)) : null;
            yield return F("word_meaning", "en", "en:" + w.Word, w.Word, D(("word", w.Word), ("pos", PosName[w.Pos])), D(("gloss", w.Definition)), "gloss", [w.Definition], near);
        }
    }

    static IEnumerable<Fact> Antonyms(Knowledge k)
    {
        foreach (var (word, opposites) in k.EnAntonyms.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            yield return F("antonym", "en", "en:" + word, word, D(("word", word)), D(("answer", opposites[0])), "answer", opposites, D(("answer", word)));
        foreach (var (word, opposites) in k.ZhAntonyms.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            yield return F("antonym", "zh", "zh:" + word, word, D(("word", word)), D(("answer", opposites[0])), "answer", opposites, D(("answer", word)));
    }

    static IEnumerable<Fact> CountryFacts(Knowledge k)
    {
        var countries = k.Countries.Where(c => c.NameZh.Length > 0).ToList();
        foreach (var c in countries)
        {
            string key = "country:" + c.Code;
            var rng = new StableRandom(key);
            var neighbours = countries.Where(o => o.Code != c.Code && o.Subregion == c.Subregion).ToList();
            if (neighbours.Count == 0) neighbours = countries.Where(o => o.Code != c.Code && o.Region == c.Region).ToList();
            var nb = neighbours.Count > 0 ? neighbours[rng.Next(neighbours.Count)] : null;
            if (c.Capitals.Count > 0)
            {
                var accepted = c.Capitals.Concat(c.CapitalZh is null ? [] : [c.CapitalZh]).ToList();
                var nbCap = nb?.Capitals.Count > 0 && !nb.Capitals.Any(accepted.Contains) ? nb : null;
                yield return F("capital", "zh", key, c.Code, D(("country", c.NameZh)), D(("answer", c.CapitalZh ?? c.Capitals[0])), "answer", accepted,
                    nbCap is null ? null : D(("answer", nbCap.CapitalZh ?? nbCap.Capitals[0])));
                yield return F("capital", "en", key, c.Code, D(("country", c.NameEn)), D(("answer", c.Capitals[0])), "answer", accepted,
                    nbCap is null ? null : D(("answer", nbCap.Capitals[0])));
            }
            yield return F("country_name", "zh", key, c.Code, D(("name", c.NameEn)), D(("answer", c.NameZh)), "answer", [c.NameZh], nb is null ? null : D(("answer", nb.NameZh)));
            yield return F("country_name", "en", key, c.Code, D(("name", c.NameZh)), D(("answer", c.NameEn)), "answer", [c.NameEn, c.OfficialEn], nb is null ? null : D(("answer", nb.NameEn)));
        }
    }

    /// <summary>Replaces one character by another from the same poem: the classic "almost remembered" line.</summary>
    public static string? ChangeOneCharacter(string line, string poemText, string seed)
    {
        var rng = new StableRandom(seed);
        var pool = poemText.Where(c => c >= '\u4E00' && c <= '\u9FFF' && !line.Contains(c)).Distinct().ToList();
        var positions = Enumerable.Range(0, line.Length).Where(i => line[i] >= '\u4E00' && line[i] <= '\u9FFF').ToList();
        if (pool.Count == 0 || positions.Count == 0) return null;
        int p = positions[rng.Next(positions.Count)];
        return line[..p] + pool[rng.Next(pool.Count)] + line[(p + 1)..];
    }

    public const int RecitationCap = 120;

    static IEnumerable<Fact> PoemFacts(List<Poem> poems)
    {
        var authorsByTitle = poems.GroupBy(p => p.Title).ToDictionary(g => g.Key, g => g.Select(p => p.Author).Distinct().ToList());
        var allAuthors = poems.Select(p => p.Author).Distinct().Order(StringComparer.Ordinal).ToList();
        var clauseCount = poems.SelectMany(p => p.Clauses).GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count());
        var seenTitles = new HashSet<string>();
        foreach (var p in poems)
        {
            var rng = new StableRandom("poem:" + p.Title + p.Author);
            var accepted = authorsByTitle[p.Title];
            var others = allAuthors.Where(a => !accepted.Contains(a)).ToList();
            if (seenTitles.Add(p.Title))
                foreach (var lang in new[] { "zh", "en" })
                    yield return F("poem_author", lang, "poem:" + p.Title, p.Title, D(("title", p.Title)), D(("answer", p.Author)), "answer", accepted, D(("answer", others[rng.Next(others.Count)])));

            string linesKey = "poemlines:" + p.Title + ":" + p.Author;
            var clauses = p.Clauses;
            for (int i = 0; i + 1 < clauses.Count; i++)
            {
                if (clauseCount[clauses[i]] > 1 || clauses[i].Length < 3) continue;
                var near = ChangeOneCharacter(clauses[i + 1], p.Text, $"{linesKey}:{i}");
                foreach (var lang in new[] { "zh", "en" })
                    yield return F("poem_next_line", lang, linesKey, $"{p.Title}:{p.Author}:{i}", D(("line", clauses[i])), D(("answer", clauses[i + 1])), "answer", [clauses[i + 1]],
                        near is null ? null : D(("answer", near)));
            }
            if (p.Text.Length <= RecitationCap)
            {
                var lines = p.Lines.ToList();
                int li = rng.Next(lines.Count);
                var changed = ChangeOneCharacter(lines[li], p.Text, linesKey + ":recite");
                string? nearText = changed is null ? null : string.Join("\n", lines.Select((l, i) => i == li ? changed : l));
                foreach (var lang in new[] { "zh", "en" })
                    yield return F("poem_recite", lang, linesKey, $"{p.Title}:{p.Author}", D(("title", p.Title), ("author", p.Author)), D(("answer", p.Text)), "answer", [p.Text],
                        nearText is null ? null : D(("answer", nearText)));
            }
        }
    }

    /// <summary>
    /// Every problem of the domain once: a ± b for whole numbers up to <see cref="DomainSize.ArithmeticMax"/> (no negative
    /// results), a × b and (a·b) ÷ b within the times tables. A small model learns such a table (the corpus holds it,
    /// <see cref="ArithmeticProblem.Line"/>); long arithmetic it cannot.
    /// </summary>
    public static IEnumerable<ArithmeticProblem> ArithmeticProblems(DomainSize d)
    {
        for (int a = 0; a <= d.ArithmeticMax; a++)
            for (int b = 0; b <= d.ArithmeticMax; b++)
            {
                yield return new ArithmeticProblem(0, a, b, a + b);
                if (b <= a) yield return new ArithmeticProblem(1, a, b, a - b);
            }
        for (int a = 1; a <= d.TimesTableMax; a++)
            for (int b = 1; b <= d.TimesTableMax; b++)
            {
                yield return new ArithmeticProblem(2, a, b, a * b);
                yield return new ArithmeticProblem(3, a * b, b, a);
            }
    }

    static IEnumerable<Fact> Arithmetic(string lang, DomainSize d)
    {
        foreach (var p in ArithmeticProblems(d))
        {
            string key = $"arith:{p.Expression}";
            var rng = new StableRandom($"arith:{lang}:{p.Expression}");
            int delta = rng.Next(2) == 0 ? (rng.Next(2) == 0 ? 1 : -1) : (rng.Next(2) == 0 ? 10 : -10);
            var q = D(("a", p.A.ToString()), ("b", p.B.ToString()), ("expr", p.Expression), ("opzh", p.OpZh), ("open", p.OpEn));
            yield return F("arithmetic", lang, key, p.Expression, q, D(("answer", p.Result.ToString())), "answer", [p.Result.ToString()],
                D(("answer", (p.Result + delta < 0 ? p.Result - delta : p.Result + delta).ToString())));
        }
    }
}

/// <summary>One arithmetic problem: op 0–3 is +, −, ×, ÷.</summary>
public readonly record struct ArithmeticProblem(int Op, int A, int B, int Result)
{
    public string Symbol => "+-×÷"[Op].ToString();
    public string OpZh => new[] { "加", "减", "乘以", "除以" }[Op];
    public string OpEn => new[] { "plus", "minus", "times", "divided by" }[Op];
    public string Expression => $"{A} {Symbol} {B}";
    /// <summary>The problem as a corpus line, in one of the two languages' wordings.</summary>
    public string Line(string lang) => lang == "zh" ? $"{A}{OpZh}{B}等于{Result}。" : $"{Expression} = {Result}";
}
