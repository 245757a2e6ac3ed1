using ChatForge.Data.Build;
using ChatForge.Data.Dialogues;
using Xunit;

namespace ChatForge.Data.Tests;

/// <summary>The task domain's size (DomainSize): which words, poems and problems the chat tasks ask about.</summary>
public class DomainTests
{
    [Fact]
    public void Domain_size_limits_hsk_levels_english_words_and_poems_but_not_the_corpus_poems_or_the_absent_words()
    {
        var small = Fixtures.SyntheticKnowledge(new DomainSize { HskMaxLevel = 2, EnglishWords = 10, PoemMaxClauses = 4 });
        var large = Fixtures.SyntheticKnowledge(DomainSize.Large);

        Assert.All(small.ZhWords, w => Assert.True(w.Level <= 2, $"{w.Word} is HSK level {w.Level}"));
        Assert.Contains(large.ZhWords, w => w.Level > 2);
        Assert.Equal(large.ZhWords.Where(w => w.Level <= 2).Select(w => w.Word), small.ZhWords.Select(w => w.Word));
        // The ten most frequent lemmas (the fixture's "big" and "small" are tagged most often).
        Assert.Equal(large.EnWords.Take(10).Select(w => w.Word), small.EnWords.Select(w => w.Word));
        Assert.Contains("big", small.EnWords.Select(w => w.Word));

        Assert.Equal(35, small.Tang300.Count);
        Assert.Equal(30, small.PoemDomain.Count);
        Assert.All(small.PoemDomain, p => Assert.True(p.Clauses.Count <= 4));
        Assert.Equal(35, large.PoemDomain.Count);
        // The "I don't know" words do not depend on the domain: they are outside every HSK level.
        Assert.Equal(large.AbsentHeadwords.Order(), small.AbsentHeadwords.Order());
        Assert.NotEmpty(small.AbsentHeadwords);

        var poemFacts = FactGenerator.All(small).Where(f => f.Task.StartsWith("poem_")).ToList();
        Assert.NotEmpty(poemFacts);
        Assert.DoesNotContain(poemFacts, f => f.Key.Contains('律'));
    }

    [Fact]
    public void Arithmetic_covers_the_small_tables_once_with_exact_answers_and_wrong_near_misses()
    {
        var domain = new DomainSize { ArithmeticMax = 20, TimesTableMax = 9 };
        var problems = FactGenerator.ArithmeticProblems(domain).ToList();
        // a + b for 21 × 21 pairs, a − b for the 231 with b ≤ a, the 81 products and their 81 divisions.
        Assert.Equal(441 + 231 + 81 + 81, problems.Count);
        Assert.Equal(problems.Count, problems.Select(p => p.Expression).Distinct().Count());
        Assert.All(problems, p =>
        {
            Assert.True(p.Result >= 0);
            Assert.Equal(p.Result, p.Op switch { 0 => p.A + p.B, 1 => p.A - p.B, 2 => p.A * p.B, _ => p.A / p.B });
            if (p.Op == 3) Assert.Equal(0, p.A % p.B);
        });
        Assert.Equal("7 × 8 = 56", new ArithmeticProblem(2, 7, 8, 56).Line("en"));
        Assert.Equal("56除以8等于7。", new ArithmeticProblem(3, 56, 8, 7).Line("zh"));

        var knowledge = Fixtures.SyntheticKnowledge(new DomainSize { ArithmeticMax = 20, TimesTableMax = 9 });
        var facts = FactGenerator.All(knowledge).Where(f => f.Task == "arithmetic").ToList();
        Assert.Equal(2 * problems.Count, facts.Count);
        Assert.All(facts, f =>
        {
            var near = f.Near!["answer"];
            Assert.NotEqual(f.A["answer"], near);
            Assert.True(int.Parse(near) >= 0, $"{f.Q["expr"]}: near miss {near}");
        });
        // Both languages ask the same problem under one key, so a held-out problem is held out in both.
        Assert.All(facts.GroupBy(f => f.Key), g => Assert.Equal(["en", "zh"], g.Select(f => f.Lang).Order()));
    }

    [Fact]
    public void The_facts_corpus_holds_the_arithmetic_table_and_only_the_task_poems()
    {
        var knowledge = Fixtures.SyntheticKnowledge();
        var lines = new CorpusBuilder(new DataPaths(Path.GetTempPath()), knowledge, _ => { }).FactDocs()
            .SelectMany(d => d.Text.Split('\n')).ToList();
        var counts = lines.GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        foreach (var p in FactGenerator.ArithmeticProblems(knowledge.Domain))
        {
            Assert.Equal(CorpusBuilder.FactRepeats, counts.GetValueOrDefault(p.Line("en")));
            Assert.Equal(CorpusBuilder.FactRepeats, counts.GetValueOrDefault(p.Line("zh")));
        }
        Assert.All(knowledge.PoemDomain, p => Assert.Equal(CorpusBuilder.FactRepeats, counts.GetValueOrDefault(p.Lines[0])));
        Assert.DoesNotContain(lines, l => l.Contains((char)0x8600));
    }
}
