using System.Text.RegularExpressions;

namespace ChatForge.Tokenizer.Tests;

public sealed class PreSplitPatternTests
{
    private static string[] Chunks(string pattern, string text) => PreSplitPatterns.Compile(pattern).Matches(text).Select(m => m.Value).ToArray();

    [Fact]
    public void Default_pattern_gives_han_runs_a_leading_mark_but_keeps_them_apart_from_latin()
    {
        Assert.Equal(["床前明月光", "，疑是地上霜", "。"], Chunks(PreSplitPatterns.Default, "床前明月光，疑是地上霜。"));
        Assert.Equal(["I", "'m", " using", " 模型", " GPT", "-", "4", " today", "!\n"], Chunks(PreSplitPatterns.Default, "I'm using 模型 GPT-4 today!\n"));
        Assert.Equal(["123", "45", "中文", "abc", "使用", "Python"], Chunks(PreSplitPatterns.Default, "12345中文abc使用Python"));
    }

    [Fact]
    public void Variants_differ_only_in_how_han_is_cut()
    {
        const string text = "床前明月光，疑是地上霜";
        Assert.Equal(["床前明月光", "，疑是地上霜"], Chunks(PreSplitPatterns.HanRunsWithPunctuation, text));
        Assert.Equal(["中文abc"], Chunks(PreSplitPatterns.HanRunsWithPunctuation, "中文abc"));
        Assert.Equal(["床前明月光", "，", "疑是地上霜"], Chunks(PreSplitPatterns.HanRuns, text));
        Assert.Equal(["床前", "明月", "光", "，", "疑是", "地上", "霜"], Chunks(PreSplitPatterns.HanPieces(2), text));
        Assert.Equal(PreSplitPatterns.HanPieces(3), PreSplitPatterns.FromName("han-3"));
        Assert.Equal(PreSplitPatterns.Default, PreSplitPatterns.FromName("default"));
        Assert.Equal("[a-z]+", PreSplitPatterns.FromName("[a-z]+"));
    }

    [Fact]
    public void Special_token_text_is_never_one_chunk()
    {
        foreach (string pattern in new[] { PreSplitPatterns.Default, PreSplitPatterns.HanRuns, PreSplitPatterns.HanRunsWithPunctuation, PreSplitPatterns.HanPieces(1) })
            Assert.Equal(["<|", "im", "_end", "|>"], Chunks(pattern, "<|im_end|>"));
    }

    [Fact]
    public void Chunks_cover_every_character_and_are_never_longer_than_the_cap()
    {
        var random = new Random(17);
        foreach (string pattern in new[] { PreSplitPatterns.Default, PreSplitPatterns.HanRunsWithPunctuation, PreSplitPatterns.HanPieces(2) })
        {
            var regex = PreSplitPatterns.Compile(pattern);
            for (int i = 0; i < 200; i++)
            {
                string text = TestText.RandomString(random, 300);
                if (i % 10 == 0) text += new string('x', 500) + new string(' ', 300) + new string('的', 300) + new string('!', 200) + new string('\n', 200);
                var matches = regex.Matches(text);
                Assert.Equal(text, string.Concat(matches.Select(m => m.Value)));
                // One optional prefix character, at most 64 characters of run, and a trailing [\r\n] for "\s{0,64}[\r\n]".
                Assert.All(matches, m => Assert.True(m.Length <= PreSplitPatterns.MaxRun * 2 + 1, $"chunk of {m.Length} characters"));
            }
        }
    }
}
