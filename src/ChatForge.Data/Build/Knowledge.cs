using ChatForge.Data.Parsers;
using CedictParser = ChatForge.Data.Parsers.Cedict;
using CountriesParser = ChatForge.Data.Parsers.Countries;
using ChatForge.Data.Sources;
using ChatForge.Data.Text;

namespace ChatForge.Data.Build;

public sealed record ZhWord(string Word, string Pinyin, IReadOnlyList<string> Glosses, int Level);

public sealed record EnWord(string Word, char Pos, string Definition, IReadOnlyList<string> Examples, int TagCount);

/// <summary>
/// How much of each source the chat tasks ask about. The default fits the 7M-parameter default model's 3-hour budget: it
/// sees each fact about a hundred times in pretraining only when the domain is this small (docs/data.md has the
/// measurement: with HSK 1–6, 3,000 English words and all of 唐诗三百首, each fact seen ~13 times, the model learnt none).
/// </summary>
public sealed record DomainSize
{
    /// <summary>HSK words of levels 1..this (HSK 2.0: 150, 300, 600, 1,200, 2,500, 5,000 words cumulatively).</summary>
    public int HskMaxLevel { get; init; } = 3;
    /// <summary>The most frequent English WordNet lemmas (by SemCor sense tags).</summary>
    public int EnglishWords { get; init; } = 800;
    /// <summary>Poems of 唐诗三百首 with at most this many clauses (4: the 绝句) for the poem tasks; every poem stays in the corpus.</summary>
    public int PoemMaxClauses { get; init; } = 4;
    /// <summary>Addition and subtraction of whole numbers up to this; multiplication and division within the times tables to <see cref="TimesTableMax"/>.</summary>
    public int ArithmeticMax { get; init; } = 20;
    public int TimesTableMax { get; init; } = 9;

    /// <summary>The domain before session 5: every HSK level, 3,000 English words, all 唐诗三百首.</summary>
    public static readonly DomainSize Large = new() { HskMaxLevel = 6, EnglishWords = 3000, PoemMaxClauses = int.MaxValue, ArithmeticMax = 100, TimesTableMax = 12 };
}

/// <summary>
/// The structured facts the dialogues are written from, sized by <see cref="DomainSize"/>: HSK words, the most frequent
/// English WordNet lemmas, all countries, poems of 唐诗三百首, small arithmetic.
/// </summary>
public sealed class Knowledge
{
    public required ChineseConverter T2S { get; init; }
    public required List<CedictEntry> Cedict { get; init; }
    public required List<ZhWord> ZhWords { get; init; }
    public required List<EnWord> EnWords { get; init; }
    public required List<Synset> Synsets { get; init; }
    /// <summary>English antonym pairs among the English word domain (both directions present).</summary>
    public required Dictionary<string, List<string>> EnAntonyms { get; init; }
    public required Dictionary<string, List<string>> ZhAntonyms { get; init; }
    /// <summary>Every CEDICT headword (simplified) for each answer gloss, over the whole dictionary: used to accept synonyms.</summary>
    public required Dictionary<string, List<string>> WordsByGloss { get; init; }
    public required List<Country> Countries { get; init; }
    /// <summary>All of 唐诗三百首 (continuation dialogues use the long ones).</summary>
    public required List<Poem> Tang300 { get; init; }
    /// <summary>The poems the poem tasks ask about (<see cref="DomainSize.PoemMaxClauses"/>).</summary>
    public required List<Poem> PoemDomain { get; init; }
    public required DomainSize Domain { get; init; }
    /// <summary>CEDICT words kept out of the corpus and of every dialogue except "I don't know" ones: facts the model cannot know.</summary>
    public required List<CedictEntry> AbsentWords { get; init; }
    public required HashSet<string> AbsentHeadwords { get; init; }

    public static string CedictPath(DataPaths p) => Path.Combine(p.Unpacked("cedict"), "package", "tests", "cedict_ts.u8");
    public static string PoetryDir(DataPaths p) => Path.Combine(p.Unpacked("chinese-poetry"), "package", "dist");
    public static string WordNetDir(DataPaths p) => Path.Combine(p.Unpacked("wordnet"), "package", "dict");

    public static Knowledge Load(DataPaths paths, Action<string> log, DomainSize? domain = null)
    {
        var t2s = ChineseConverter.LoadFolder(paths.OpenCcText);
        var cedict = CedictParser.Load(CedictPath(paths));
        var hsk = Hsk.Load(Path.Combine(paths.Unpacked("chinese-lexicon"), "package", "statistics", "hsk.js"));
        var wnDir = WordNetDir(paths);
        var synsets = new List<Synset>();
        foreach (var pos in new[] { "noun", "verb", "adj", "adv" })
        {
            var f = Path.Combine(wnDir, "data." + pos);
            if (!File.Exists(f)) throw new DataSourceException($"{f}: WordNet data file not found; run `data fetch`.");
            synsets.AddRange(WordNet.ParseData(File.ReadLines(f), f));
        }
        var senseFile = Path.Combine(wnDir, "index.sense");
        if (!File.Exists(senseFile)) throw new DataSourceException($"{senseFile}: WordNet sense index not found; run `data fetch`.");
        var senses = WordNet.ParseSenseIndex(File.ReadLines(senseFile), senseFile);
        var countries = CountriesParser.WithChineseCapitals(CountriesParser.Load(Path.Combine(paths.Unpacked("world-countries"), "package", "countries.json")), cedict);
        var tang300 = Poetry.Load(Path.Combine(PoetryDir(paths), "mengxue", "tangshisanbaishou.json"), "唐诗三百首", t2s);
        log($"loaded: {cedict.Count} CEDICT entries, {hsk.Count} HSK words, {synsets.Count} synsets, {countries.Count} countries, {tang300.Count} poems of 唐诗三百首");
        return Build(t2s, cedict, hsk, synsets, senses, countries, tang300, domain);
    }

    public static Knowledge Build(ChineseConverter t2s, List<CedictEntry> cedict, Dictionary<string, int> hsk, List<Synset> synsets,
        Dictionary<(string Lemma, string SynsetKey), (int Sense, int Count)> senses, List<Country> countries, List<Poem> tang300, DomainSize? domain = null)
    {
        domain ??= new DomainSize();
        // Chinese domain: HSK words with usable CEDICT glosses; one pinyin (the first reading that has glosses).
        var byWord = cedict.GroupBy(e => e.Simplified).ToDictionary(g => g.Key, g => g.ToList());
        var zhWords = new List<ZhWord>();
        foreach (var (word, level) in hsk.Where(kv => kv.Value <= domain.HskMaxLevel).OrderBy(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!byWord.TryGetValue(word, out var entries)) continue;
            var common = entries.Where(e => !char.IsUpper(e.Pinyin.FirstOrDefault())).ToList();
            if (common.Count == 0) continue;
            var glosses = common.SelectMany(CedictParser.AnswerGlosses).Distinct().Take(6).ToList();
            if (glosses.Count == 0) continue;
            var reading = common.First(e => CedictParser.AnswerGlosses(e).Count > 0);
            zhWords.Add(new ZhWord(word, CedictParser.ToneMarks(reading.Pinyin), glosses, level));
        }

        var wordsByGloss = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var e in cedict)
            foreach (var g in CedictParser.AnswerGlosses(e))
            {
                var key = NormalizeGloss(g);
                if (!wordsByGloss.TryGetValue(key, out var list)) wordsByGloss[key] = list = [];
                if (!list.Contains(e.Simplified)) list.Add(e.Simplified);
            }

        // English domain: lemmas ranked by how often their senses are tagged in SemCor (index.sense), most frequent sense kept.
        var synsetByKey = synsets.ToDictionary(s => s.Key);
        var enWords = senses
            .Where(kv => kv.Key.Lemma.Length >= 2 && kv.Key.Lemma.All(c => c is >= 'a' and <= 'z') && synsetByKey.ContainsKey(kv.Key.SynsetKey))
            .GroupBy(kv => kv.Key.Lemma)
            .Select(g => (Lemma: g.Key, Total: g.Sum(x => x.Value.Count), Best: g.OrderByDescending(x => x.Value.Count).ThenBy(x => x.Value.Sense).First()))
            .Where(x => x.Total > 0)
            .OrderByDescending(x => x.Total).ThenBy(x => x.Lemma, StringComparer.Ordinal)
            .Take(domain.EnglishWords)
            .Select(x => { var s = synsetByKey[x.Best.Key.SynsetKey]; return new EnWord(x.Lemma, s.Pos, s.Definition, s.Examples, x.Total); })
            .ToList();
        var enSet = enWords.Select(w => w.Word).ToHashSet();

        // Antonyms: WordNet's lexical "!" pointers between two words of the English domain.
        var enAntonyms = new Dictionary<string, List<string>>();
        foreach (var s in synsets)
            foreach (var p in s.Pointers.Where(p => p.Symbol == "!"))
            {
                if (p.Source < 1 || p.Source > s.Lemmas.Count || !synsetByKey.TryGetValue($"{p.Pos}{p.Offset}", out var other) || p.Target < 1 || p.Target > other.Lemmas.Count) continue;
                string a = s.Lemmas[p.Source - 1], b = other.Lemmas[p.Target - 1];
                if (!enSet.Contains(a) || !enSet.Contains(b) || a == b) continue;
                if (!enAntonyms.TryGetValue(a, out var list)) enAntonyms[a] = list = [];
                if (!list.Contains(b)) list.Add(b);
            }
        // Chinese antonyms through English: 大 = big, big ↔ small, small = 小 (only when each gloss names exactly one HSK word).
        var hskByGloss = zhWords.SelectMany(w => w.Glosses.Select(g => (Gloss: NormalizeGloss(g), w.Word)))
            .GroupBy(x => x.Gloss).ToDictionary(g => g.Key, g => g.Select(x => x.Word).Distinct().ToList());
        var zhAntonyms = new Dictionary<string, List<string>>();
        foreach (var w in zhWords)
        {
            var first = NormalizeGloss(w.Glosses[0]);
            if (!hskByGloss.TryGetValue(first, out var same) || same.Count != 1 || !enAntonyms.TryGetValue(first, out var opposites)) continue;
            foreach (var o in opposites)
                if (hskByGloss.TryGetValue(o, out var zhOpp) && zhOpp.Count == 1 && zhOpp[0] != w.Word)
                {
                    if (!zhAntonyms.TryGetValue(w.Word, out var list)) zhAntonyms[w.Word] = list = [];
                    if (!list.Contains(zhOpp[0])) list.Add(zhOpp[0]);
                }
        }

        // Absent facts: about 600 uncommon, ordinary CEDICT words (not in any HSK level, whatever the domain), chosen by a fixed hash.
        var absent = cedict
            .Where(e => !hsk.ContainsKey(e.Simplified) && e.Simplified.Length is >= 2 and <= 4 && TextCleaner.CountHan(e.Simplified) == e.Simplified.Length
                        && !char.IsUpper(e.Pinyin.FirstOrDefault()) && CedictParser.AnswerGlosses(e).Count > 0 && StableHash.Unit(e.Simplified, "absent") < 0.006)
            .GroupBy(e => e.Simplified).Select(g => g.First()).ToList();

        return new Knowledge
        {
            T2S = t2s, Cedict = cedict, ZhWords = zhWords, EnWords = enWords, Synsets = synsets, EnAntonyms = enAntonyms, ZhAntonyms = zhAntonyms,
            WordsByGloss = wordsByGloss, Countries = countries, Tang300 = tang300, AbsentWords = absent, Domain = domain,
            PoemDomain = tang300.Where(p => p.Clauses.Count <= domain.PoemMaxClauses).ToList(),
            AbsentHeadwords = absent.Select(e => e.Simplified).ToHashSet(),
        };
    }

    /// <summary>"to eat" and "eat" name the same gloss when looking up words by meaning.</summary>
    public static string NormalizeGloss(string g)
    {
        g = g.Trim().ToLowerInvariant();
        if (g.StartsWith("to ")) g = g[3..];
        if (g.StartsWith("a ")) g = g[2..];
        else if (g.StartsWith("an ")) g = g[3..];
        else if (g.StartsWith("the ")) g = g[4..];
        return g.Trim();
    }
}
