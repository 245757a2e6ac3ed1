using ChatForge.Data.Sources;
using ChatForge.Data.Text;

namespace ChatForge.Data.Tests;

public class CleaningTests
{
    [Fact]
    public void Ansi_codes_are_removed()
    {
        Assert.Equal("-- Debian 《行为准则》", TextCleaner.StripAnsi("\u001b[33m-- Debian \u001b[32m《行为准则》\u001b[m"));
        Assert.Equal("plain", TextCleaner.StripAnsi("\u001b[1;31mplain\u001b[0m"));
    }

    [Fact]
    public void Rst_markup_is_removed()
    {
        var rst = """
            .. _tut-intro:

            **********************
            Whetting Your Appetite
            **********************

            .. index:: single: appetite

            Use :func:`len` and the :class:`~collections.OrderedDict` type, see `the site <https://example.org>`_ and ``x + 1``.
            This is *very* **important**.
            """;
        var text = TextCleaner.NormalizeWhitespace(TextCleaner.StripRst(rst));
        Assert.Equal("Whetting Your Appetite\n\nUse len and the collections.OrderedDict type, see the site and x + 1.\nThis is very important.", text);
    }

    [Fact]
    public void Roff_markup_is_removed()
    {
        var roff = ".\\\" a comment\n.TH LS 1 \"2022\"\n.SH 名称\nls \\- 列出目录内容\n.SH 概述\n\\fBls\\fP [\\fI\\,选项\\/\\fP]...\n.PP\n列出\\(emfiles.\n.B bold line\n";
        var text = TextCleaner.NormalizeWhitespace(TextCleaner.StripRoff(roff));
        Assert.Equal("名称\nls - 列出目录内容\n\n概述\nls [选项]...\n\n列出—files.\nbold line", text);
    }

    [Fact]
    public void Poem_notes_and_gaps()
    {
        Assert.Equal("春草明年绿，王孙归不归？", TextCleaner.StripPoemNotes("春草明年绿，王孙归不归？(明年 一作：年年)"));
        Assert.Equal("功盖三分国，名成八阵图。", TextCleaner.StripPoemNotes("功盖三分国，名成八阵图。（名成 一作：名高）"));
        var split = TextCleaner.StripPoemNotes("回乐烽前沙似雪，受降城外月如霜。(回乐\n一作：回乐\n）\n不知何处");
        Assert.DoesNotContain("一作", split);
        Assert.DoesNotContain("（", split.Replace("(", "（"));
        Assert.DoesNotContain("）", split);
        Assert.StartsWith("回乐烽前沙似雪，受降城外月如霜。", split);
        Assert.EndsWith("不知何处", split);
        Assert.True(TextCleaner.HasGap("春□花开"));
        Assert.True(TextCleaner.HasGap("秋{月}明"));
        Assert.False(TextCleaner.HasGap("床前明月光"));
    }

    [Fact]
    public void Whitespace_is_normalised()
    {
        Assert.Equal("a b\nc\n\nd", TextCleaner.NormalizeWhitespace("  a \t b  \r\nc\n\n\n\n  d  \n"));
        Assert.Equal("全角 空格", TextCleaner.NormalizeWhitespace("全角\u3000空格"));
    }

    [Fact]
    public void Traditional_to_simplified_prefers_phrases()
    {
        var t2s = Fixtures.T2S();
        Assert.Equal("举头望明月，低头思故乡。", t2s.Convert("舉頭望明月，低頭思故鄉。"));
        Assert.Equal("乾隆的头发", t2s.Convert("乾隆的頭髮")); // phrase 乾隆 keeps 乾; 髮 takes the first candidate
        Assert.Equal("干净", t2s.Convert("乾净"));
        Assert.Equal("Latin text 123", t2s.Convert("Latin text 123"));
    }

    [Fact]
    public void Corrupt_t2s_dictionary_names_the_file()
    {
        var e = Assert.Throws<DataSourceException>(() => new ChineseConverter(["乾隆 乾隆"], ["靜\t静"], "/o/TSPhrases.txt", "/o/TSCharacters.txt"));
        Assert.Contains("/o/TSPhrases.txt", e.Message);
        var empty = Assert.Throws<DataSourceException>(() => new ChineseConverter([], ["靜\t静"], "/o/TSPhrases.txt", "/o/TSCharacters.txt"));
        Assert.Contains("/o/TSPhrases.txt", empty.Message);
        var missing = Assert.Throws<DataSourceException>(() => ChineseConverter.LoadFolder("/nonexistent-opencc"));
        Assert.Contains("/nonexistent-opencc", missing.Message);
    }

    [Fact]
    public void Splits_are_stable_and_sized()
    {
        // Pinned values: a change here means every split would move, which must never happen silently.
        Assert.Equal(StableHash.Fnv1a("corpus:tang:静夜思"), StableHash.Fnv1a("corpus:tang:静夜思"));
        Assert.Equal("f39725ed69846e91", StableHash.Fnv1a("capital:zh:FRA").ToString("x16"));
        var keys = Enumerable.Range(0, 20000).Select(i => $"doc:{i}").ToList();
        var first = keys.Select(Splits.Corpus).ToList();
        Assert.Equal(first, keys.Select(Splits.Corpus).ToList());
        double val = first.Count(s => s == "val") / (double)keys.Count;
        Assert.InRange(val, 0.007, 0.013);
        double held = keys.Count(Splits.IsHeldOut) / (double)keys.Count;
        Assert.InRange(held, 0.03, 0.05);
    }
}
