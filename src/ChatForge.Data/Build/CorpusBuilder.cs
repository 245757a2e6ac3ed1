using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatForge.Data.Dialogues;
using ChatForge.Data.Parsers;
using ChatForge.Data.Sources;
using ChatForge.Data.Text;

namespace ChatForge.Data.Build;

public sealed record Document(string Key, string Source, string Lang, string Text);

public sealed record SourceStats(string Source, string Lang, int Documents, long Chars, long Bytes, int Dropped, long HanChars, long EstimatedZhTokens, long EstimatedEnTokens);

/// <summary>
/// The pretraining corpus: every source cleaned into documents, traditional → simplified, exact duplicates removed,
/// English sources sampled so that estimated tokens come out about 1:1 (see EstimateTokens; `data tokenize` measures it).
/// </summary>
public sealed partial class CorpusBuilder(DataPaths paths, Knowledge knowledge, Action<string> log)
{
    readonly HashSet<ulong> _seen = [];
    readonly List<Document> _docs = [];
    readonly List<SourceStats> _stats = [];
    public IReadOnlyList<SourceStats> Stats => _stats;
    public IReadOnlyList<Document> Documents => _docs;

    public void Collect()
    {
        var x = paths.Sources;
        var dist = Knowledge.PoetryDir(paths);
        var t2s = knowledge.T2S;

        // Chinese
        Add("tang300", "zh", Poems(Poetry.Load(Path.Combine(dist, "mengxue", "tangshisanbaishou.json"), "唐诗三百首", t2s), "唐"));
        Add("tang", "zh", Poems(Directory.GetFiles(Path.Combine(dist, "quantangshi"), "poet.tang.*.json").Order(StringComparer.Ordinal).SelectMany(f => Poetry.Load(f, "全唐诗", t2s)), "唐"));
        Add("songci", "zh", Poems(Directory.GetFiles(Path.Combine(dist, "songci"), "ci.song.*.json").Order(StringComparer.Ordinal).SelectMany(f => Poetry.Load(f, "宋词", t2s)), "宋"));
        Add("yuanqu", "zh", Poems(Poetry.Load(Path.Combine(dist, "yuanqu", "yuanqu.json"), "元曲", t2s), "元"));
        var classics = new[] { "shijing/shijing.json", "lunyu/lunyu.json", "chuci/chuci.json", "sishuwujing/daxue.json", "sishuwujing/mengzi.json",
            "sishuwujing/zhongyong.json", "caocaoshiji/caocao.json", "youmengying/youmengying.json", "nalanxingde/纳兰性德诗集.json" };
        Add("classics", "zh", classics.Select(c => Path.Combine(dist, c)).Where(File.Exists).SelectMany(f => Poems(Poetry.Load(f, Path.GetFileNameWithoutExtension(f), t2s), "")));
        var wudai = Path.Combine(dist, "wudaishici");
        if (Directory.Exists(wudai)) Add("wudai", "zh", Poems(Directory.GetFiles(wudai, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal).SelectMany(f => Poetry.Load(f, "五代词", t2s)), "五代"));
        Add("fortunes-zh", "zh", FortuneDocs("fortunes-zh", Path.Combine(paths.Unpacked("fortunes-zh"), "usr", "share", "games", "fortunes"), t2s));
        Add("manpages-zh", "zh", ManPages());

        // Bilingual
        Add("cedict", "zh-en", CedictDocs());
        Add("countries", "zh-en", CountryDocs());

        // English: WordNet whole (it backs the English word tasks); the other English sources share what is left of the
        // budget, each sampled by the same fraction (so all stay represented); GCIDE only fills a remaining gap.
        Add("wordnet", "en", WordNetDocs());
        var pool = new (string Name, List<Document> Docs)[]
        {
            ("python-doc", PythonDocs().ToList()),
            ("fortunes", FortuneDocs("fortunes", Path.Combine(paths.Unpacked("fortunes"), "usr", "share", "games", "fortunes"), null)
                .Concat(FortuneDocs("fortunes-min", Path.Combine(paths.Unpacked("fortunes-min"), "usr", "share", "games", "fortunes"), null)).ToList()),
            ("jargon", DictdDocs("dict-jargon", "jargon", 10).ToList()),
            ("foldoc", DictdDocs("dict-foldoc", "foldoc", 10).ToList()),
        };
        long zhTokens = _stats.Sum(s => s.EstimatedZhTokens), enTokens = _stats.Sum(s => s.EstimatedEnTokens);
        long poolTokens = pool.Sum(p => p.Docs.Sum(d => EstimateTokens(d.Text).En));
        double keep = poolTokens == 0 ? 0 : Math.Clamp((zhTokens - enTokens) / (double)poolTokens, 0, 1);
        log($"balance (estimated tokens): Chinese {zhTokens / 1e6:F1}M, English incl. WordNet {enTokens / 1e6:F1}M; keeping {keep:P0} of the other English sources ({poolTokens / 1e6:F1}M)");
        foreach (var (name, docs) in pool) Add(name, "en", docs.Where(d => StableHash.Unit(d.Key, "english-sample") < keep));
        enTokens = _stats.Sum(s => s.EstimatedEnTokens);
        var gcide = DictdDocs("dict-gcide", "gcide", 25).ToList();
        long gcideTokens = gcide.Sum(d => EstimateTokens(d.Text).En);
        double keepGcide = gcideTokens == 0 ? 0 : Math.Clamp((zhTokens - enTokens) / (double)gcideTokens, 0, 1);
        Add("gcide", "en", gcide.Where(d => StableHash.Unit(d.Key, "gcide-sample") < keepGcide));

        // Knowledge upsampling, after the language balance so the other sources are sampled as before.
        Add("facts", "zh-en", FactDocs());
    }

    /// <summary>How many times <see cref="FactDocs"/> repeats each fact (see there).</summary>
    public const int FactRepeats = 250;

    /// <summary>
    /// The facts the chat tasks ask about (<see cref="DomainSize"/>), as short lines repeated <see cref="FactRepeats"/>
    /// times, each repetition in the next of the fact's phrasings (<see cref="FactPhrasings"/>): each HSK word with its reading and CEDICT glosses (and the first gloss back to the word, for English →
    /// Chinese), the English words' definitions and antonyms, the Chinese antonym pairs, every country's capital in both
    /// languages, the poems of the poem tasks and the arithmetic table. In the rest of the corpus each of them is one line
    /// among 52 MB, seen about once in pretraining, and a small model does not keep a fact it saw once; repeated, it can
    /// (real pretraining up-weights reference text the same way). At 250 repetitions the facts are about half of the
    /// corpus, so the default recipe's pretraining sees each one about a hundred times. Every repetition shuffles the lines
    /// into different blocks, so no block is an exact duplicate (those are dropped). Words kept out of the corpus for the
    /// "I don't know" evaluation are not HSK words, so they stay absent.
    /// </summary>
    public IEnumerable<Document> FactDocs()
    {
        // Each unit is one fact in several phrasings (FactPhrasings); every repetition writes each fact once, in turn.
        var units = new List<string[]>();
        foreach (var w in knowledge.ZhWords)
        {
            units.Add(FactPhrasings.WordMeaning(w));
            units.Add(FactPhrasings.WordFromGloss(w));
        }
        foreach (var w in knowledge.EnWords)
            units.Add(FactPhrasings.EnglishWord(w, PosName.GetValueOrDefault(w.Pos, "word"), knowledge.EnAntonyms.GetValueOrDefault(w.Word)));
        foreach (var (word, opposites) in knowledge.ZhAntonyms) units.Add(FactPhrasings.ChineseAntonym(word, opposites));
        foreach (var c in knowledge.Countries)
        {
            var (en, zh) = CountryLines(c);
            units.Add(FactPhrasings.CountryEn(c, en));
            units.Add(FactPhrasings.CountryZh(c, zh));
        }
        foreach (var p in knowledge.PoemDomain)
        {
            units.Add([Poems([p], "唐").Single().Text]);
            if (p.Author.Length > 0) units.Add(FactPhrasings.PoemAuthor(p));
        }
        foreach (var problem in FactGenerator.ArithmeticProblems(knowledge.Domain))
            units.AddRange(new[] { "zh", "en" }.Select(lang => new[] { problem.Line(lang) }));
        for (int r = 0; r < FactRepeats; r++)
        {
            string salt = $"facts-{r}";
            var lines = units.Select(u => FactPhrasings.Pick(u, r)).OrderBy(u => StableHash.Unit(u, salt)).ToList();
            for (int i = 0, n = 0; i < lines.Count; i += 24, n++)
                yield return new Document($"facts:{r}:{n}", "facts", "zh-en", string.Join("\n", lines.Skip(i).Take(24)));
        }
    }

    void Add(string source, string lang, IEnumerable<Document> docs)
    {
        int n = 0, dropped = 0; long chars = 0, bytes = 0, han = 0, zhTok = 0, enTok = 0;
        foreach (var d in docs)
        {
            var text = BlankLines().Replace(d.Text.Replace("\r\n", "\n").Replace('\r', '\n'), "\n").Trim();
            if (text.Length < 8 || !TextCleaner.LooksLikeText(text) || (lang == "en" && Offensive().IsMatch(text)) || !_seen.Add(DedupKey(text))) { dropped++; continue; }
            _docs.Add(d with { Text = text });
            n++; chars += text.Length; bytes += Encoding.UTF8.GetByteCount(text);
            var (h, z, e) = EstimateTokens(text);
            han += h; zhTok += z; enTok += e;
        }
        _stats.Add(new SourceStats(source, lang, n, chars, bytes, dropped, han, zhTok, enTok));
        log($"{source}: {n} documents, {chars / 1e6:F2}M chars, {bytes / 1e6:F2} MB ({dropped} dropped: short, duplicate or unusable)");
    }

    /// <summary>
    /// Rough token counts before a tokenizer exists: one token per CJK character or CJK punctuation mark, one per
    /// three other characters (measured with the 16k-vocabulary tokenizer trained on this corpus: 3.0 characters per token
    /// outside Chinese documents, 1.1 tokens per Han character). `data tokenize` reports the real counts.
    /// </summary>
    public static (long Han, long Zh, long En) EstimateTokens(string text)
    {
        long han = 0, cjk = 0;
        foreach (var c in text)
        {
            if (c is >= '\u4E00' and <= '\u9FFF' or >= '\u3400' and <= '\u4DBF') { han++; cjk++; }
            else if (c is >= '\u3000' and <= '\u303F' or >= '\uFF00' and <= '\uFFEF') cjk++;
        }
        return (han, cjk, (text.Length - cjk + 2) / 3);
    }

    [GeneratedRegex(@"\n[ \t]*(\n[ \t]*)+")] private static partial Regex BlankLines();

    // A few slurs: the old quote and dictionary collections contain some; such documents are dropped.
    [GeneratedRegex(@"\b(nigger|niggers|kike|chink|wetback|faggot)\b", RegexOptions.IgnoreCase)] private static partial Regex Offensive();

    /// <summary>Duplicates are found on letters and digits only, so punctuation and spacing variants collapse.</summary>
    static ulong DedupKey(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var c in text) if (char.IsLetterOrDigit(c)) sb.Append(char.ToLowerInvariant(c));
        return StableHash.Fnv1a(sb.ToString());
    }

    static IEnumerable<Document> Poems(IEnumerable<Poem> poems, string dynasty)
    {
        foreach (var p in poems)
        {
            var header = p.Author.Length == 0 ? $"《{p.Title}》" : dynasty.Length > 0 ? $"《{p.Title}》 {dynasty}·{p.Author}" : $"《{p.Title}》 {p.Author}";
            yield return new Document($"{p.Collection}:{p.Author}:{p.Title}:{p.Lines[0]}", p.Collection, "zh", header + "\n" + p.Text);
        }
    }

    IEnumerable<Document> FortuneDocs(string source, string dir, ChineseConverter? t2s)
    {
        if (!Directory.Exists(dir)) throw new DataSourceException($"{dir}: fortune folder not found; run `data fetch`.");
        foreach (var f in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
        {
            if (f.EndsWith(".dat") || f.EndsWith(".u8") || new FileInfo(f).LinkTarget is not null || Path.GetFileName(f) is "ascii-art" or "art") continue;
            int i = 0;
            foreach (var r in Fortunes.Load(f))
                yield return new Document($"{source}:{Path.GetFileName(f)}:{i++}", source, t2s is null ? "en" : "zh", t2s is null ? r : t2s.Convert(r));
        }
    }

    IEnumerable<Document> ManPages()
    {
        var dir = Path.Combine(paths.Unpacked("manpages-zh"), "usr", "share", "man", "zh_CN");
        if (!Directory.Exists(dir)) throw new DataSourceException($"{dir}: manpages-zh folder not found; run `data fetch`.");
        foreach (var f in Directory.GetFiles(dir, "*.gz", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string roff;
            try { using var gz = new GZipStream(File.OpenRead(f), CompressionMode.Decompress); using var r = new StreamReader(gz, Encoding.UTF8); roff = r.ReadToEnd(); }
            catch (InvalidDataException e) { throw new DataSourceException($"{f}: corrupt gzip ({e.Message}).", e); }
            if (roff.StartsWith(".so ")) continue; // a link to another page
            var text = TextCleaner.NormalizeWhitespace(knowledge.T2S.Convert(TextCleaner.StripRoff(roff)));
            if (TextCleaner.CountHan(text) < 50) continue;
            yield return new Document($"man:{Path.GetFileName(f)}", "manpages-zh", "zh", text);
        }
    }

    IEnumerable<Document> CedictDocs()
    {
        var block = new List<string>();
        int n = 0;
        foreach (var e in knowledge.Cedict)
        {
            if (knowledge.AbsentHeadwords.Contains(e.Simplified)) continue;
            block.Add(e.ToCorpusLine());
            if (block.Count == 40) { yield return new Document($"cedict:{n++}", "cedict", "zh-en", string.Join("\n", block)); block.Clear(); }
        }
        if (block.Count > 0) yield return new Document($"cedict:{n}", "cedict", "zh-en", string.Join("\n", block));
    }

    static readonly Dictionary<string, string> RegionZh = new()
    {
        ["Africa"] = "非洲", ["Americas"] = "美洲", ["Asia"] = "亚洲", ["Europe"] = "欧洲", ["Oceania"] = "大洋洲", ["Antarctic"] = "南极洲",
    };

    IEnumerable<Document> CountryDocs()
    {
        foreach (var c in knowledge.Countries)
        {
            var (en, zh) = CountryLines(c);
            yield return new Document($"country:{c.Code}", "countries", "zh-en", en + "\n" + zh);
        }
    }

    static (string En, string Zh) CountryLines(Country c)
    {
        var en = new StringBuilder($"{c.NameEn} ({c.NameZh}), officially the {c.OfficialEn}, is in {c.Region}");
        if (c.Subregion.Length > 0) en.Append($" ({c.Subregion})");
        en.Append('.');
        if (c.Capitals.Count > 0) en.Append($" The capital of {c.NameEn} is {string.Join(" and ", c.Capitals)}{(c.CapitalZh is null ? "" : $" ({c.CapitalZh})")}.");
        var zh = new StringBuilder($"{c.NameZh}（{c.NameEn}）位于{RegionZh.GetValueOrDefault(c.Region, c.Region)}。");
        if (c.Capitals.Count > 0) zh.Append($"{c.NameZh}的首都是{c.CapitalZh ?? c.Capitals[0]}{(c.CapitalZh is null ? "" : $"（{c.Capitals[0]}）")}。");
        return (en.ToString(), zh.ToString());
    }

    static readonly Dictionary<char, string> PosName = new() { ['n'] = "noun", ['v'] = "verb", ['a'] = "adj.", ['r'] = "adv." };

    IEnumerable<Document> WordNetDocs()
    {
        var byKey = knowledge.Synsets.ToDictionary(s => s.Key);
        var block = new List<string>();
        int n = 0;
        foreach (var s in knowledge.Synsets)
        {
            var line = new StringBuilder($"{string.Join(", ", s.Lemmas)} ({PosName[s.Pos]}): {s.Definition}.");
            foreach (var ex in s.Examples.Take(3)) line.Append($" Example: \"{ex}\".");
            var antonyms = s.Pointers.Where(p => p.Symbol == "!" && byKey.ContainsKey($"{p.Pos}{p.Offset}"))
                .Select(p => byKey[$"{p.Pos}{p.Offset}"].Lemmas.ElementAtOrDefault(p.Target - 1)).Where(a => a is not null).Distinct().ToList();
            if (antonyms.Count > 0) line.Append($" Opposite: {string.Join(", ", antonyms)}.");
            var hyper = s.Pointers.FirstOrDefault(p => p.Symbol == "@" && byKey.ContainsKey($"{p.Pos}{p.Offset}"));
            if (hyper is not null && s.Pos == 'n') line.Append($" A kind of {byKey[$"{hyper.Pos}{hyper.Offset}"].Lemmas[0]}.");
            block.Add(line.ToString());
            if (block.Count == 30) { yield return new Document($"wordnet:{n++}", "wordnet", "en", string.Join("\n", block)); block.Clear(); }
        }
        if (block.Count > 0) yield return new Document($"wordnet:{n}", "wordnet", "en", string.Join("\n", block));
    }

    IEnumerable<Document> PythonDocs()
    {
        var dir = Path.Combine(paths.Unpacked("python-doc"), "usr", "share", "doc", "python3.11", "html", "_sources");
        if (!Directory.Exists(dir)) throw new DataSourceException($"{dir}: Python documentation folder not found; run `data fetch`.");
        foreach (var f in Directory.GetFiles(dir, "*.rst.txt", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var rel = Path.GetRelativePath(dir, f);
            if (rel.StartsWith("whatsnew") || rel.StartsWith("distutils")) continue; // changelogs and a removed module
            yield return new Document($"python:{rel}", "python-doc", "en", TextCleaner.NormalizeWhitespace(TextCleaner.StripRst(File.ReadAllText(f))));
        }
    }

    // GCIDE markup: pronunciation "\Ab*do"men\", source tags "[1913 Webster]", "[PJC]", cross-reference braces.
    [GeneratedRegex(@"\\[^\\\n]{1,80}\\")] private static partial Regex Pronunciation();
    [GeneratedRegex(@"\[(1913 Webster|Webster 1913 Suppl\.|PJC|WordNet 1\.5|Century Dict\.|RH|F\.|R\.|Obs\.|Colloq\.|Archaic)\]|[{}]")] private static partial Regex Editorial();

    IEnumerable<Document> DictdDocs(string source, string name, int perDocument)
    {
        var dir = Path.Combine(paths.Unpacked(source), "usr", "share", "dictd");
        var entries = Dictd.Load(Path.Combine(dir, name + ".index"), Path.Combine(dir, name + ".dict.dz"));
        var block = new List<string>();
        int n = 0;
        foreach (var (_, body) in entries)
        {
            var text = body;
            if (name == "gcide") text = Editorial().Replace(Pronunciation().Replace(text, ""), "");
            text = TextCleaner.NormalizeWhitespace(text);
            if (text.Length < 20) continue;
            block.Add(text);
            if (block.Count == perDocument) { yield return new Document($"{name}:{n++}", name, "en", string.Join("\n\n", block)); block.Clear(); }
        }
        if (block.Count > 0) yield return new Document($"{name}:{n}", name, "en", string.Join("\n\n", block));
    }

    /// <summary>
    /// Writes corpus/{train,val}/NNN.txt: plain UTF-8 text, one document per block, documents separated by exactly one
    /// blank line (blank lines inside a document were collapsed to single line breaks when it was added, so the
    /// separator is unambiguous for the tokenizer trainer and for `data tokenize`). Shards hold about 32 MB, in a fixed
    /// pseudo-random order so every shard mixes sources; 1% of documents, chosen by key, go to val.
    /// </summary>
    public Dictionary<string, (int Documents, long Bytes, int Shards)> Write()
    {
        foreach (var split in new[] { "train", "val" })
        {
            var dir = paths.CorpusSplit(split);
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
            Directory.CreateDirectory(dir);
        }
        var result = new Dictionary<string, (int, long, int)>();
        foreach (var group in _docs.GroupBy(d => Splits.Corpus(d.Key)))
        {
            var ordered = group.OrderBy(d => StableHash.Fnv1a(d.Key)).ToList();
            int shard = 0, count = 0; long bytes = 0, shardBytes = 0;
            StreamWriter? w = null;
            foreach (var d in ordered)
            {
                if (w is null || shardBytes > 32_000_000)
                {
                    w?.Dispose();
                    w = new StreamWriter(Path.Combine(paths.CorpusSplit(group.Key), $"{shard++:000}.txt"), false, new UTF8Encoding(false));
                    shardBytes = 0;
                }
                else w.Write("\n\n");
                w.Write(d.Text);
                int b = Encoding.UTF8.GetByteCount(d.Text);
                shardBytes += b + 2; bytes += b; count++;
            }
            if (w is not null) { w.Write('\n'); w.Dispose(); }
            result[group.Key] = (count, bytes, shard);
        }
        return result;
    }

    /// <summary>Reads documents back from a corpus shard written by <see cref="Write"/>.</summary>
    public static IEnumerable<string> ReadDocuments(string shardPath)
    {
        var sb = new StringBuilder();
        foreach (var line in File.ReadLines(shardPath))
        {
            if (line.Length == 0)
            {
                if (sb.Length > 0) { yield return sb.ToString(); sb.Clear(); }
                continue;
            }
            if (sb.Length > 0) sb.Append('\n');
            sb.Append(line);
        }
        if (sb.Length > 0) yield return sb.ToString();
    }
}
