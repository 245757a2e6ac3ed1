using ChatForge.Data.Build;
using ChatForge.Data.Parsers;
using ChatForge.Data.Text;

namespace ChatForge.Data.Tests;

/// <summary>Small inputs in each source's format, written for these tests (no source text is copied).</summary>
public static class Fixtures
{
    public const string CedictText = """
        # CC-CEDICT test fixture
        # License: CC BY-SA 4.0 (format only)
        蘋果 苹果 [ping2 guo3] /apple/
        大 大 [da4] /big/large/great/
        小 小 [xiao3] /small/tiny/
        書 书 [shu1] /book/letter/CL:本[ben3]/
        巴黎 巴黎 [Ba1 li2] /Paris, capital of France/
        東京 东京 [Dong1 jing1] /Tokyo, capital of Japan/
        李 李 [Li3] /surname Li/
        """;

    // One synset line per POS in WordNet's data.* layout (offset lex_filenum ss_type w_cnt word lex_id p_cnt pointers | gloss).
    public const string WordNetAdj = """
          1 This is a fixture in WordNet's format, not WordNet text.
        00001001 00 a 02 big 0 large 0 001 ! 00001002 a 0101 | above average in size; "a big house"; "large rooms"
        00001002 00 a 01 small 0 001 ! 00001001 a 0101 | below average in size; "a small cup"
        """;

    public const string SenseIndex = """
        big%3:00:01:: 00001001 1 40
        large%3:00:00:: 00001001 1 30
        small%3:00:00:: 00001002 1 35
        """;

    public const string PoetryFlat = """
        [
          {"author": "李白", "title": "靜夜思", "paragraphs": ["床前明月光，疑是地上霜。(明月 一作：看月)", "舉頭望明月，低頭思故鄉。"]},
          {"author": "無名", "title": "缺字", "paragraphs": ["春□花開早，{秋}月明。"]}
        ]
        """;

    public const string PoetryNested = """
        {"title": "唐詩三百首", "content": [{"type": "五言絕句", "content": [
          {"chapter": "登鸛雀樓", "subchapter": null, "author": "王之渙", "paragraphs": ["白日依山盡，黃河入海流。(海 通", "一作：海", "）", "欲窮千里目，更上一層樓。"]}
        ]}]}
        """;

    public const string CountriesJson = """
        [
          {"name": {"common": "France", "official": "French Republic"}, "cca3": "FRA", "capital": ["Paris"], "region": "Europe", "subregion": "Western Europe", "independent": true,
           "translations": {"zho": {"official": "法兰西共和国", "common": "法国"}}},
          {"name": {"common": "Japan", "official": "Japan"}, "cca3": "JPN", "capital": ["Tokyo"], "region": "Asia", "subregion": "Eastern Asia", "independent": true,
           "translations": {"zho": {"official": "日本国", "common": "日本"}}},
          {"name": {"common": "Antarctica", "official": "Antarctica"}, "cca3": "ATA", "capital": [], "region": "Antarctic", "subregion": "",
           "translations": {"zho": {"official": "南极洲", "common": "南极洲"}}}
        ]
        """;

    public const string FortuneText = "A first made-up saying,\n\tover two lines.\n\t\t-- Nobody\n%\n\u001b[33mA coloured\u001b[m saying.\n%\n";

    public const string TsPhrases = "乾隆\t乾隆\n頭髮\t头发\n";
    public const string TsCharacters = "靜\t静\n舉\t举\n頭\t头\n鄉\t乡\n髮\t发 髪\n乾\t干 乾\n鸛\t鹳\n樓\t楼\n盡\t尽\n黃\t黄\n窮\t穷\n層\t层\n無\t无\n開\t开\n蘋\t苹\n書\t书\n東\t东\n";

    public static ChineseConverter T2S() => new(TsPhrases.Split('\n', StringSplitOptions.RemoveEmptyEntries), TsCharacters.Split('\n', StringSplitOptions.RemoveEmptyEntries));

    public static string[] Lines(string s) => s.Replace("\r\n", "\n").Split('\n');

    /// <summary>
    /// A synthetic knowledge domain large enough that some facts are held out: 300 words made of CJK ideographs with
    /// made-up glosses (HSK levels 1–6 in turn), 60 English lemmas, 40 countries, 30 four-clause poems and 5 eight-clause
    /// ones, and antonym pairs; <paramref name="domain"/> sizes the task domain as in a real build.
    /// </summary>
    public static Knowledge SyntheticKnowledge(DomainSize? domain = null)
    {
        var cedict = new List<CedictEntry>();
        var hsk = new Dictionary<string, int>();
        for (int i = 0; i < 300; i++)
        {
            string w = $"{(char)(0x4E00 + 2 * i)}{(char)(0x4E01 + 2 * i)}";
            cedict.Add(new CedictEntry(w, w, $"zi{i % 4 + 1} ci{(i + 1) % 4 + 1}", [$"gloss{i}", $"meaning number {i}"]));
            hsk[w] = 1 + i % 6;
        }
        for (int i = 0; i < 3000; i++) // uncommon words, some become "absent" facts
        {
            string w = $"{(char)(0x6000 + i % 1500)}{(char)(0x7000 + i)}";
            cedict.Add(new CedictEntry(w, w, "xx1 yy2", [$"rare{i}"]));
        }
        cedict.Add(new CedictEntry("大", "大", "da4", ["big"]));
        cedict.Add(new CedictEntry("小", "小", "xiao3", ["small"]));
        hsk["大"] = 1; hsk["小"] = 1;
        var synsets = new List<Synset>();
        var senses = new Dictionary<(string, string), (int, int)>();
        for (int i = 0; i < 60; i++)
        {
            string off = $"{10000000 + i}";
            string lemma = "word" + new string((char)('a' + i % 26), 1 + i / 26);
            var ptr = i < 20 ? new List<WordNetPointer> { new("!", $"{10000000 + (i ^ 1)}", 'a', 1, 1) } : [];
            synsets.Add(new Synset(off, 'a', [lemma], $"definition of {lemma}", [$"an example with {lemma}"], ptr));
            senses[(lemma, "a" + off)] = (1, 60 - i);
        }
        synsets.Add(new Synset("20000001", 'a', ["big"], "above average in size", [], [new("!", "20000002", 'a', 1, 1)]));
        synsets.Add(new Synset("20000002", 'a', ["small"], "below average in size", [], [new("!", "20000001", 'a', 1, 1)]));
        senses[("big", "a20000001")] = (1, 100);
        senses[("small", "a20000002")] = (1, 90);
        var countries = new List<Country>();
        for (int i = 0; i < 40; i++)
            countries.Add(new Country($"C{i:00}", $"Country{i}", $"Republic of Country{i}", $"国{(char)(0x5000 + i)}", [$"Capital{i}"], i % 2 == 0 ? "Europe" : "Asia", $"Sub{i % 4}", true)
            { CapitalZh = i % 3 == 0 ? $"城{(char)(0x5100 + i)}" : null });
        var poems = new List<Poem>();
        for (int i = 0; i < 30; i++)
        {
            string C(int k) => new(Enumerable.Range(0, 5).Select(j => (char)(0x8000 + i * 40 + k * 5 + j)).ToArray());
            poems.Add(new Poem("唐诗三百首", $"题{(char)(0x9000 + i)}", $"诗人{(char)(0x9100 + i % 7)}", [$"{C(0)}，{C(1)}。", $"{C(2)}，{C(3)}。"]));
        }
        for (int i = 0; i < 5; i++)
        {
            string C(int k) => new(Enumerable.Range(0, 5).Select(j => (char)(0x8600 + i * 40 + k * 5 + j)).ToArray());
            poems.Add(new Poem("唐诗三百首", $"律{(char)(0x9200 + i)}", $"诗人{(char)(0x9100 + i % 7)}", [$"{C(0)}，{C(1)}。", $"{C(2)}，{C(3)}。", $"{C(4)}，{C(5)}。", $"{C(6)}，{C(7)}。"]));
        }
        return Knowledge.Build(T2S(), cedict, hsk, synsets, senses, countries, poems, domain);
    }
}
