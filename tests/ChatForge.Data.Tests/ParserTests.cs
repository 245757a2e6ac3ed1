using System.IO.Compression;
using System.Text;
using System.Text.Json;
using ChatForge.Data.Parsers;
using ChatForge.Data.Sources;

namespace ChatForge.Data.Tests;

public class ParserTests
{
    [Fact]
    public void Cedict_parses_entries_and_answer_glosses()
    {
        var entries = Cedict.Parse(Fixtures.Lines(Fixtures.CedictText), "cedict.u8");
        Assert.Equal(7, entries.Count);
        var book = entries.Single(e => e.Simplified == "书");
        Assert.Equal("書", book.Traditional);
        Assert.Equal(["book", "letter"], Cedict.AnswerGlosses(book)); // the classifier note is not an answer
        Assert.Empty(Cedict.AnswerGlosses(entries.Single(e => e.Simplified == "李"))); // surnames are not meanings
        Assert.Equal("苹果 (ping2 guo3): apple", entries[0].ToCorpusLine());
        Assert.Equal("píng guǒ", Cedict.ToneMarks("ping2 guo3"));
        Assert.Equal("lǜ", Cedict.ToneMarks("lu:4"));
        Assert.Equal("xiǎo", Cedict.ToneMarks("xiao3"));
    }

    [Fact]
    public void Corrupt_cedict_names_the_file()
    {
        var lines = Enumerable.Range(0, 50).Select(i => $"garbage line {i}");
        var e = Assert.Throws<DataSourceException>(() => Cedict.Parse(lines, "/x/cedict_ts.u8"));
        Assert.Contains("/x/cedict_ts.u8", e.Message);
        var empty = Assert.Throws<DataSourceException>(() => Cedict.Parse(["# only a header"], "/x/empty.u8"));
        Assert.Contains("/x/empty.u8", empty.Message);
    }

    [Fact]
    public void WordNet_data_and_sense_index()
    {
        var synsets = WordNet.ParseData(Fixtures.Lines(Fixtures.WordNetAdj), "data.adj");
        Assert.Equal(2, synsets.Count);
        var big = synsets[0];
        Assert.Equal(["big", "large"], big.Lemmas);
        Assert.Equal("above average in size", big.Definition);
        Assert.Equal(["a big house", "large rooms"], big.Examples);
        var antonym = Assert.Single(big.Pointers);
        Assert.Equal(("!", "00001002", 1, 1), (antonym.Symbol, antonym.Offset, antonym.Source, antonym.Target));
        var senses = WordNet.ParseSenseIndex(Fixtures.Lines(Fixtures.SenseIndex).Where(l => l.Length > 0), "index.sense");
        Assert.Equal((1, 40), senses[("big", "a00001001")]);
    }

    [Fact]
    public void Truncated_wordnet_line_names_the_file()
    {
        var e = Assert.Throws<DataSourceException>(() => WordNet.ParseData(["00001001 00 a 02 big 0"], "/wn/data.adj"));
        Assert.Contains("/wn/data.adj", e.Message);
        Assert.Contains("line 1", e.Message);
    }

    [Fact]
    public void Poetry_flat_and_nested_shapes_are_cleaned_and_simplified()
    {
        using var flat = JsonDocument.Parse(Fixtures.PoetryFlat);
        var poems = Poetry.Parse(flat.RootElement, "test", Fixtures.T2S(), "flat.json");
        var poem = Assert.Single(poems); // the poem with □ and {…} gaps is dropped
        Assert.Equal("静夜思", poem.Title);
        Assert.Equal(["床前明月光，疑是地上霜。", "举头望明月，低头思故乡。"], poem.Lines); // "(明月 一作：看月)" removed
        Assert.Equal(["床前明月光", "疑是地上霜", "举头望明月", "低头思故乡"], poem.Clauses);

        using var nested = JsonDocument.Parse(Fixtures.PoetryNested);
        var tang = Assert.Single(Poetry.Parse(nested.RootElement, "唐诗三百首", Fixtures.T2S(), "nested.json"));
        Assert.Equal("王之渙", tang.Author); // 渙 is not in the fixture dictionary, so it stays
        Assert.Equal(["白日依山尽，黄河入海流。", "欲穷千里目，更上一层楼。"], tang.Lines); // a note split over three lines is removed
    }

    [Fact]
    public void Truncated_poetry_json_names_the_file()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cf-poetry-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, Fixtures.PoetryFlat[..60]);
        try
        {
            var e = Assert.Throws<DataSourceException>(() => Poetry.Load(path, "t", null));
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Countries_with_chinese_names_and_capitals_from_cedict()
    {
        using var doc = JsonDocument.Parse(Fixtures.CountriesJson);
        var countries = Countries.Parse(doc.RootElement, "countries.json");
        Assert.Equal(3, countries.Count);
        var withZh = Countries.WithChineseCapitals(countries, Cedict.Parse(Fixtures.Lines(Fixtures.CedictText), "c"));
        var france = withZh.Single(c => c.Code == "FRA");
        Assert.Equal(("法国", "Paris", "巴黎"), (france.NameZh, france.Capitals[0], france.CapitalZh));
        Assert.Equal("东京", withZh.Single(c => c.Code == "JPN").CapitalZh);
        Assert.Empty(withZh.Single(c => c.Code == "ATA").Capitals);

        using var bad = JsonDocument.Parse("""[{"cca3": "XXX"}]""");
        Assert.Contains("bad.json", Assert.Throws<DataSourceException>(() => Countries.Parse(bad.RootElement, "bad.json")).Message);
    }

    [Fact]
    public void Fortunes_split_on_percent_lines_and_lose_ansi_codes()
    {
        var records = Fortunes.Parse(Fixtures.FortuneText);
        Assert.Equal(2, records.Count);
        Assert.Equal("A first made-up saying,\nover two lines.\n-- Nobody", records[0]);
        Assert.Equal("A coloured saying.", records[1]);
    }

    [Fact]
    public void Dictd_index_and_gzip_data()
    {
        var body = "alpha\n   The first letter.\n\nbeta\n   The second letter.\n";
        var bytes = Encoding.UTF8.GetBytes(body);
        string B64(long v) { const string a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"; var s = ""; do { s = a[(int)(v % 64)] + s; v /= 64; } while (v > 0); return s; }
        int second = body.IndexOf("beta", StringComparison.Ordinal);
        var index = new[] { $"00databaseinfo\tA\tB", $"alpha\t{B64(0)}\t{B64(second)}", $"beta\t{B64(second)}\t{B64(bytes.Length - second)}" };
        var entries = Dictd.Parse(index, bytes, "t.index", "t.dict.dz");
        Assert.Equal(["alpha", "beta"], entries.Select(e => e.Headword));
        Assert.StartsWith("beta", entries[1].Body);

        var bad = Assert.Throws<DataSourceException>(() => Dictd.Parse([$"gamma\t{B64(10)}\t{B64(1000)}"], bytes, "t.index", "/d/t.dict.dz"));
        Assert.Contains("/d/t.dict.dz", bad.Message);

        // A truncated gzip file is reported with its path.
        var dir = Directory.CreateTempSubdirectory("cf-dictd").FullName;
        try
        {
            using (var ms = new MemoryStream())
            {
                using (var gz = new GZipStream(ms, CompressionLevel.Optimal, true)) gz.Write(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(body, 200))));
                File.WriteAllBytes(Path.Combine(dir, "t.dict.dz"), ms.ToArray()[..(int)(ms.Length / 2)]);
            }
            File.WriteAllLines(Path.Combine(dir, "t.index"), index);
            var e = Assert.Throws<DataSourceException>(() => Dictd.Load(Path.Combine(dir, "t.index"), Path.Combine(dir, "t.dict.dz")));
            Assert.Contains("t.dict.dz", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Hsk_levels_from_the_js_module()
    {
        var js = "let hsk = [\n [" + string.Join(", ", Enumerable.Range(0, 80).Select(i => $"\"甲{i}\"")) + "],\n [" + string.Join(", ", Enumerable.Range(0, 80).Select(i => $"\"乙{i}\"")) + "]\n];\nfunction f(x) { return x[0]; }";
        var levels = Hsk.Parse(js, "hsk.js");
        Assert.Equal(1, levels["甲3"]);
        Assert.Equal(2, levels["乙79"]);
        Assert.Contains("/s/hsk.js", Assert.Throws<DataSourceException>(() => Hsk.Parse("let hsk = [", "/s/hsk.js")).Message);
    }
}
