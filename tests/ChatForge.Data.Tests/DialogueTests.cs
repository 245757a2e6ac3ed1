using ChatForge.Data.Dialogues;
using ChatForge.Data.Text;

namespace ChatForge.Data.Tests;

public class DialogueTests
{
    static readonly Lazy<DialogueBuilder> Built = new(() => { var b = new DialogueBuilder(Fixtures.SyntheticKnowledge()); b.Build(); return b; });

    [Fact]
    public void Every_task_has_at_least_20_prompt_templates_per_language()
    {
        foreach (var task in Templates.Tasks)
            foreach (var lang in new[] { "zh", "en" })
            {
                var prompts = Templates.Prompts[(task, lang)];
                Assert.True(prompts.Length >= 20, $"{task}/{lang} has {prompts.Length} prompt templates");
                Assert.Equal(prompts.Length, prompts.Distinct().Count());
            }
    }

    [Fact]
    public void Templates_render_and_report_missing_values()
    {
        Assert.Equal("法国的首都是哪里？", Templates.Render("{country}的首都是哪里？", new Dictionary<string, string> { ["country"] = "法国" }));
        var e = Assert.Throws<KeyNotFoundException>(() => Templates.Render("{country}?", new Dictionary<string, string>()));
        Assert.Contains("{country}", e.Message);
        // Every prompt and answer template of every generated fact renders without a missing placeholder.
        foreach (var f in Built.Value.Facts.GroupBy(f => (f.Task, f.Lang)).Select(g => g.First()))
        {
            foreach (var t in Templates.Prompts[(f.Task, f.Lang)]) Templates.Render(t, f.Q);
            foreach (var t in Templates.Answers[(f.Task, f.Lang)]) Assert.Contains(f.Gold.Split('\n')[0], Templates.Render(t, f.With(f.A)));
        }
    }

    [Fact]
    public void Sft_covers_every_task_in_both_languages()
    {
        var b = Built.Value;
        var present = b.Sft.Select(r => (r.Task, r.Lang)).ToHashSet();
        foreach (var task in Templates.Tasks.Where(t => t != "antonym"))
            foreach (var lang in new[] { "zh", "en" })
                Assert.Contains((task, lang), present);
        foreach (var r in b.Sft)
        {
            Assert.Equal("assistant", r.Messages[^1].Role);
            Assert.Contains(r.Messages, m => m.Role == "user");
            Assert.All(r.Messages, m => Assert.False(string.IsNullOrWhiteSpace(m.Content)));
        }
        Assert.Equal(b.Sft.Count, b.Sft.Select(r => r.Id).Distinct().Count());
    }

    [Fact]
    public void Held_out_facts_never_reach_sft_or_rankings()
    {
        var b = Built.Value;
        var heldout = b.Eval.Where(e => e.Set == "heldout").ToList();
        Assert.NotEmpty(heldout);
        Assert.Contains(b.Eval, e => e.Set == "absent");
        var trainingPrompts = b.Sft.SelectMany(r => r.Messages).Where(m => m.Role == "user").Select(m => AnswerMatcher.Normalize(m.Content, null))
            .Concat(b.Rankings.Select(r => AnswerMatcher.Normalize(r.Messages[^1].Content, null))).ToHashSet();
        // A follow-up's last turn ("And its capital?") is the same phrasing as in SFT: its held-out part is the first question.
        foreach (var e in b.Eval)
            Assert.DoesNotContain(AnswerMatcher.Normalize((e.Set == "followup" ? e.Messages[0] : e.Messages[^1]).Content, null), trainingPrompts);
        // A held-out fact's key is held out in every task and language.
        var heldKeys = b.Facts.Where(f => Splits.IsHeldOut(f.Key)).Select(f => f.Id).ToHashSet();
        Assert.NotEmpty(heldKeys);
    }

    [Fact]
    public void Gold_answers_match_their_accepted_answers()
    {
        foreach (var f in Built.Value.Facts)
            Assert.True(AnswerMatcher.IsMatch(DialogueBuilder.Answer(f, f.A, new StableRandom(f.Id)), f.Accepted), $"{f.Id}: gold does not match");
    }

    [Fact]
    public void Sft_records_of_short_answer_tasks_carry_accepted_answers_their_reply_matches()
    {
        var b = Built.Value;
        foreach (var r in b.Sft)
        {
            if (!DialogueBuilder.EvalTasks.Contains(r.Task)) { Assert.Null(r.Answers); continue; }
            Assert.NotNull(r.Answers);
            Assert.True(AnswerMatcher.IsMatch(r.Messages[^1].Content, r.Answers!), $"{r.Id}: its reply does not match its answers");
        }
        Assert.Contains(b.Sft, r => r.Task == "capital" && r.Answers is not null);
        Assert.Contains(b.Sft, r => r.Task == "word_meaning" && r.Answers is null);
    }

    [Fact]
    public void Rankings_have_ordered_answers_and_no_worse_answer_is_accepted()
    {
        var b = Built.Value;
        Assert.NotEmpty(b.Rankings);
        var facts = b.Facts.ToDictionary(f => $"{f.Id.Split(':')[0]}-{StableHash.Fnv1a(f.Id + "#0"):x16}");
        int checkedCount = 0;
        foreach (var r in b.Rankings)
        {
            Assert.True(r.Answers.Count >= 4);
            Assert.Equal(r.Answers.Count, r.Answers.Distinct().Count());
            if (r.Task == "unknown")
            {
                Assert.True(AnswerMatcher.IsRefusal(r.Answers[0]));
                Assert.All(r.Answers.Skip(2), a => Assert.False(AnswerMatcher.IsRefusal(a)));
                continue;
            }
            // Known facts: gold, near miss, other entry, "I don't know", off topic; only the fourth declines.
            Assert.Equal(5, r.Answers.Count);
            Assert.Equal([false, false, false, true, false], r.Answers.Select(AnswerMatcher.IsRefusal));
            var f = facts[r.Id];
            Assert.True(AnswerMatcher.IsMatch(r.Answers[0], f.Accepted), $"{r.Id}: gold answer '{r.Answers[0]}' does not match");
            foreach (var worse in r.Answers.Skip(1)) Assert.False(AnswerMatcher.IsMatch(worse, f.Accepted), $"{r.Id}: '{worse}' matches an accepted answer");
            checkedCount++;
        }
        Assert.True(checkedCount > 100);
    }

    [Fact]
    public void Refusals_of_known_facts_are_short_long_and_about_the_facts_own_subject()
    {
        // PPO against the likelihood reward model found long refusals the rankings never showed (docs/pipeline.md):
        // the rankings now rank each kind of refusal below every on-topic attempt.
        var b = Built.Value;
        var facts = b.Facts.ToDictionary(f => $"{f.Id.Split(':')[0]}-{StableHash.Fnv1a(f.Id + "#0"):x16}");
        var known = b.Rankings.Where(r => r.Task != "unknown").ToList();
        var declines = known.Select(r => r.Answers[3]).ToList();
        Assert.DoesNotContain(declines, d => d.Contains('{') || d.Contains('}'));
        double shortShare = declines.Count(d => d.Length <= 20) / (double)declines.Count;
        Assert.InRange(shortShare, 0.2, 0.5);
        // Facts with a word or a country: about a third of their refusals name it.
        var withSubject = known.Select(r => (r, q: facts[r.Id].Q))
            .Select(x => (x.r, subject: x.q.GetValueOrDefault("country") ?? x.q.GetValueOrDefault("word") ?? (x.r.Task == "translate_en_zh" ? x.q["gloss"] : null)))
            .Where(x => x.subject is not null).ToList();
        Assert.NotEmpty(withSubject);
        double ownSubject = withSubject.Count(x => x.r.Answers[3].Contains(x.subject!)) / (double)withSubject.Count;
        Assert.InRange(ownSubject, 0.2, 0.5);
        Assert.True(declines.Distinct().Count() > 20);
    }

    [Fact]
    public void Long_answers_are_cut_at_the_cap_and_resumed()
    {
        var text = string.Join("\n", Enumerable.Range(0, 12).Select(i => $"第{i}行诗句写在这里，再写一些字。"));
        var parts = SpecialDialogues.CutAtCap(text, 60);
        Assert.True(parts.Count > 1);
        Assert.All(parts, p => Assert.True(p.Length <= 60));
        Assert.Equal(text.Replace("\n", ""), string.Concat(parts).Replace("\n", ""));
        var continued = Built.Value.Sft.Where(r => r.Task == "continue").ToList();
        Assert.NotEmpty(continued);
        foreach (var r in continued.Where(r => r.Messages.Count(m => m.Role == "assistant") > 1))
        {
            var users = r.Messages.Where(m => m.Role == "user").Skip(1).Select(m => m.Content);
            Assert.All(users, u => Assert.Contains(u, Templates.Prompts[("continue", r.Lang)]));
        }
    }

    [Fact]
    public void Followups_need_the_earlier_turn()
    {
        var followups = Built.Value.Sft.Where(r => r.Task == "followup").ToList();
        Assert.NotEmpty(followups);
        Assert.All(followups, r => Assert.Equal(2, r.Messages.Count(m => m.Role == "user")));
        Assert.Contains(followups, r => r.Lang == "zh");
        Assert.Contains(followups, r => r.Lang == "en");
    }

    [Fact]
    public void Followup_eval_asks_held_out_facts_in_two_turns_with_the_entity_as_answer()
    {
        var b = Built.Value;
        var items = b.Eval.Where(e => e.Set == "followup").ToList();
        Assert.NotEmpty(items);
        Assert.Contains(items, e => e.Lang == "zh");
        Assert.Contains(items, e => e.Lang == "en");
        Assert.Equal(items.Count, items.Select(e => e.Id).Distinct().Count());
        var heldOutFirst = b.Facts.Where(f => Splits.IsHeldOut(f.Key)).ToList();
        foreach (var e in items)
        {
            Assert.StartsWith("followup_", e.Task);
            Assert.Equal(["user", "assistant", "user"], e.Messages.Select(m => m.Role));
            Assert.Contains(e.Messages[2].Content, Templates.Prompts[("followup", e.Lang)]);
            Assert.NotEmpty(e.Answers);
            // Short entities, not templated sentences.
            Assert.All(e.Answers, a => Assert.True(a.Length <= 40, $"{e.Id}: answer '{a}' is not a short entity"));
        }
        // The first turn is a held-out fact's question with its gold answer.
        var byAnswer = items.Where(e => e.Task == "followup_capital" && e.Lang == "en").ToList();
        Assert.NotEmpty(byAnswer);
        Assert.True(items.Select(e => e.Task).Distinct().Count() >= 3);
        foreach (var e in byAnswer)
            Assert.Contains(heldOutFirst, f => f.Task == "country_name" && f.Lang == "en" && AnswerMatcher.IsMatch(e.Messages[1].Content, f.Accepted)
                && e.Answers.Contains(Fixtures.SyntheticKnowledge().Countries.Single(c => "country:" + c.Code == f.Key).Capitals[0]));
        // Deterministic: a second build writes the same items.
        var again = new DialogueBuilder(Fixtures.SyntheticKnowledge());
        again.Build();
        Assert.Equal(items.Select(e => System.Text.Json.JsonSerializer.Serialize(e)), again.Eval.Where(e => e.Set == "followup").Select(e => System.Text.Json.JsonSerializer.Serialize(e)));
    }
}
