using ChatForge.Data.Parsers;
using ChatForge.Data.Text;

namespace ChatForge.Data.Build;

/// <summary>
/// Each fact of the domain written several ways, for the repeated facts corpus (<see cref="CorpusBuilder.FactDocs"/>).
/// A fact seen in one fixed sentence is stored tied to that sentence: the third training run's pretrained model
/// completed "The capital of Armenia is" with Yerevan, yet after SFT it answered questions about held-out countries
/// with other capitals, because nothing had taught it to reach that sentence from a question. Varied wording (both
/// directions, short and long, both languages) is the "knowledge augmentation" that makes stored facts extractable
/// (Allen-Zhu and Li, Physics of Language Models 3.1). The first phrasing of each fact is the one earlier corpora used.
/// </summary>
public static class FactPhrasings
{
    public static string[] WordMeaning(ZhWord w)
    {
        string g = w.Glosses[0];
        return
        [
            $"{w.Word}（{w.Pinyin}）：{string.Join("; ", w.Glosses)}",
            $"{w.Word} ({w.Pinyin}) means \"{g}\".",
            $"“{w.Word}”的意思是“{g}”。",
            $"In English, {w.Word} is \"{g}\".",
            $"“{w.Word}”（{w.Pinyin}）用英语说是 {g}。",
        ];
    }

    /// <summary>The way back from the first gloss to the word (English → Chinese).</summary>
    public static string[] WordFromGloss(ZhWord w)
    {
        string g = w.Glosses[0];
        return
        [
            $"{g}: {w.Word} ({w.Pinyin})",
            $"\"{g}\" in Chinese is {w.Word} ({w.Pinyin}).",
            $"“{g}”的中文是“{w.Word}”。",
            $"The Chinese for \"{g}\" is {w.Word}.",
            $"“{g}”用中文说是“{w.Word}”（{w.Pinyin}）。",
        ];
    }

    public static string[] EnglishWord(EnWord w, string pos, IReadOnlyList<string>? opposites)
    {
        string opposite = opposites is { Count: > 0 } ? $" Opposite: {string.Join(", ", opposites)}." : "";
        string oppositeShort = opposites is { Count: > 0 } ? $" The opposite of {w.Word} is {opposites[0]}." : "";
        return
        [
            $"{w.Word} ({pos}): {w.Definition}.{opposite}",
            $"\"{w.Word}\" ({pos}) means {w.Definition}.{oppositeShort}",
            $"The word {w.Word} means: {w.Definition}.{opposite}",
            $"{w.Word} — {w.Definition}.{oppositeShort}",
        ];
    }

    public static string[] ChineseAntonym(string word, IReadOnlyList<string> opposites)
    {
        string o = opposites[0];
        return
        [
            $"“{word}”的反义词是“{string.Join("”、“", opposites)}”。",
            $"“{word}”和“{o}”意思相反。",
            $"{word}的反义词：{o}",
            $"The opposite of {word} is {o}.",
        ];
    }

    /// <summary>A country's capital and names in English (the first phrasing also gives its official name and region).</summary>
    public static string[] CountryEn(Country c, string firstLine)
    {
        if (c.Capitals.Count == 0)
            return [firstLine, $"{c.NameEn} is called {c.NameZh} in Chinese.", $"{c.NameZh} is {c.NameEn} in English."];
        string capital = string.Join(" and ", c.Capitals);
        string capitalZh = c.CapitalZh is null ? "" : $" ({c.CapitalZh})";
        return
        [
            firstLine,
            $"{capital} is the capital of {c.NameEn}.",
            $"{c.NameEn}'s capital city is {capital}{capitalZh}.",
            $"{c.NameEn} ({c.NameZh}): capital {capital}.",
            $"{c.NameZh} is {c.NameEn} in English; its capital is {capital}.",
        ];
    }

    public static string[] CountryZh(Country c, string firstLine)
    {
        if (c.Capitals.Count == 0)
            return [firstLine, $"“{c.NameEn}”的中文名是“{c.NameZh}”。", $"{c.NameZh}的英文是{c.NameEn}。"];
        string capital = c.CapitalZh ?? c.Capitals[0];
        return
        [
            firstLine,
            $"{capital}是{c.NameZh}的首都。",
            $"{c.NameZh}的首都：{capital}。",
            $"{c.NameZh}（{c.NameEn}）的首都是{capital}。",
            $"“{c.NameEn}”的中文名是“{c.NameZh}”，首都是{capital}。",
        ];
    }

    /// <summary>A poem's author, apart from the poem itself (whose header names the author too).</summary>
    public static string[] PoemAuthor(Poem p) =>
    [
        $"《{p.Title}》的作者是{p.Author}。",
        $"《{p.Title}》 was written by {p.Author}.",
        $"{p.Author}写了《{p.Title}》。",
        $"The poem 《{p.Title}》 is by {p.Author}.",
    ];

    /// <summary>The phrasing of <paramref name="phrasings"/> that repetition <paramref name="repetition"/> uses: each in turn, from a fact's own offset.</summary>
    public static string Pick(string[] phrasings, int repetition) =>
        phrasings[(int)((StableHash.Fnv1a(phrasings[0]) + (ulong)repetition) % (ulong)phrasings.Length)];
}
