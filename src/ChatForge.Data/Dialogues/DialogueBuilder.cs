using System.Text.Json;
using ChatForge.Data.Build;
using ChatForge.Data.Text;
using ChatForge.Engine.Training;

namespace ChatForge.Data.Dialogues;

/// <summary>
/// Writes sft/{train,val}.jsonl, rankings/{train,val}.jsonl and eval/{heldout,absent,followup}.jsonl. Facts whose key
/// Splits.IsHeldOut selects never reach SFT or rankings; they become the held-out evaluation prompts (single-turn in
/// heldout.jsonl, two-turn follow-ups in followup.jsonl).
/// </summary>
public sealed class DialogueBuilder(Knowledge knowledge)
{
    /// <summary>Single-turn tasks asked about held-out facts in eval (answers short enough to match exactly).</summary>
    public static readonly HashSet<string> EvalTasks = ["translate_zh_en", "translate_en_zh", "antonym", "capital", "country_name", "poem_author", "poem_next_line"];

    /// <summary>The tasks about facts the corpus holds (or that are computed): refusing them is wrong.</summary>
    public static readonly HashSet<string> FactTasks =
        ["arithmetic", "capital", "country_name", "translate_en_zh", "translate_zh_en", "word_meaning", "antonym", "poem_author", "poem_next_line", "poem_recite"];

    /// <summary>
    /// Whether a record this pipeline wrote (<paramref name="source"/> "data") asks about a fact the corpus holds: false for
    /// words and countries kept out of it (task "unknown", answered with a refusal), true for <see cref="FactTasks"/>; null
    /// otherwise and for records from elsewhere (rankings exported by the chat server say nothing about the corpus).
    /// </summary>
    public static bool? Answerable(string task, string source = "data") =>
        source != "data" ? null : task == "unknown" ? false : FactTasks.Contains(task) ? true : null;

    /// <summary>Phrasings per fact: small domains are seen several ways, large ones once.</summary>
    static int Repeats(string task) => task switch
    {
        "capital" or "country_name" or "poem_author" => 4,
        "poem_recite" or "antonym" => 2,
        _ => 1,
    };

    public List<Fact> Facts { get; } = FactGenerator.All(knowledge);
    public List<SftRecord> Sft { get; } = [];
    public List<RankingRecord> Rankings { get; } = [];
    public List<EvalRecord> Eval { get; } = [];

    public static Dictionary<string, object> BuildAll(DataPaths paths, Knowledge knowledge, Action<string> log)
    {
        var b = new DialogueBuilder(knowledge);
        b.Build();
        var report = new Dictionary<string, object>();
        report["sft"] = Write(paths.Sft, b.Sft.GroupBy(r => Splits.Dialogue(r.Id)), log);
        report["rankings"] = Write(paths.Rankings, b.Rankings.GroupBy(r => Splits.Dialogue(r.Id)), log);
        report["eval"] = Write(paths.Eval, b.Eval.GroupBy(r => r.Set), log);
        report["sftByTask"] = b.Sft.GroupBy(r => $"{r.Task}/{r.Lang}").OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
        report["rankingsByTask"] = b.Rankings.GroupBy(r => $"{r.Task}/{r.Lang}").OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
        report["evalByTask"] = b.Eval.GroupBy(r => $"{r.Set}/{r.Task}/{r.Lang}").OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
        return report;
    }

    static Dictionary<string, object> Write<T>(string dir, IEnumerable<IGrouping<string, T>> groups, Action<string> log)
    {
        Directory.CreateDirectory(dir);
        var result = new Dictionary<string, object>();
        foreach (var g in groups.OrderBy(g => g.Key))
        {
            var path = Path.Combine(dir, g.Key + ".jsonl");
            var lines = g.Select(r => JsonSerializer.Serialize(r, Jsonl.Options)).ToList();
            AtomicFile.WriteAllText(path, string.Join("\n", lines) + "\n");
            result[g.Key] = new { records = lines.Count, bytes = new FileInfo(path).Length };
            log($"{path}: {lines.Count} records");
        }
        return result;
    }

    public void Build()
    {
        var kept = Facts.Where(f => !Splits.IsHeldOut(f.Key)).ToList();
        var byTaskLang = kept.GroupBy(f => (f.Task, f.Lang)).ToDictionary(g => g.Key, g => g.ToList());
        var byLang = kept.GroupBy(f => f.Lang).ToDictionary(g => g.Key, g => g.ToList());
        var seenPrompts = new HashSet<string>();
        foreach (var f in kept)
        {
            for (int r = 0; r < Repeats(f.Task); r++)
            {
                var rng = new StableRandom($"{f.Id}#{r}");
                var prompt = Prompt(f, rng);
                if (!seenPrompts.Add(f.Task + "\u0001" + prompt)) continue;
                Sft.Add(new SftRecord(Id(f.Id, r), f.Task, f.Lang, WithSystem(f.Lang, rng, [new("user", prompt), new("assistant", Answer(f, f.A, rng))]),
                    EvalTasks.Contains(f.Task) ? f.Accepted : null));
            }
            if (f.Near is not null) AddRanking(f, byTaskLang[(f.Task, f.Lang)], byLang[f.Lang]);
        }
        foreach (var f in Facts.Where(f => Splits.IsHeldOut(f.Key) && EvalTasks.Contains(f.Task)))
        {
            var rng = new StableRandom(f.Id + "#eval");
            Eval.Add(new EvalRecord(Id(f.Id, 0), f.Task, f.Lang, "heldout", [new("user", Prompt(f, rng))], f.Accepted));
        }
        var special = new SpecialDialogues(knowledge, kept);
        Sft.AddRange(special.Identity());
        Sft.AddRange(special.Greetings());
        Sft.AddRange(special.Followups());
        Sft.AddRange(special.Continuations());
        var (unknownSft, unknownRankings, absentEval) = special.Unknown(byLang);
        Sft.AddRange(unknownSft);
        Rankings.AddRange(unknownRankings);
        Eval.AddRange(absentEval);
        Eval.AddRange(special.FollowupEval(Facts.Where(f => Splits.IsHeldOut(f.Key))));
    }

    static string Id(string factId, int r) => $"{factId.Split(':')[0]}-{StableHash.Fnv1a(factId + "#" + r):x16}";

    public static string Prompt(Fact f, StableRandom rng) => Templates.Render(rng.Pick(Templates.Prompts[(f.Task, f.Lang)]), f.Q);

    public static string Answer(Fact f, Dictionary<string, string> answerValues, StableRandom rng) =>
        Templates.Render(rng.Pick(Templates.Answers[(f.Task, f.Lang)]), f.With(answerValues));

    public static List<ChatTurn> WithSystem(string lang, StableRandom rng, List<ChatTurn> turns)
    {
        // About a third of dialogues carry a system prompt, so the model works with and without one.
        if (rng.NextDouble() < 0.3) turns.Insert(0, new ChatTurn("system", rng.Pick(lang == "zh" ? Templates.SystemZh : Templates.SystemEn)));
        return turns;
    }

    /// <summary>
    /// K = 5 answers, best first: gold, near miss, another entry's answer (same template), "I don't know" (short or long,
    /// SpecialDialogues.DeclineKnown), a fluent answer to a different task. Every fact of the domain was taught, so declining ranks below any on-topic attempt and above
    /// an answer to another question. Every worse answer is checked against all accepted answers; a collision is replaced
    /// or the prompt skipped.
    /// </summary>
    void AddRanking(Fact f, List<Fact> sameTask, List<Fact> sameLang)
    {
        var rng = new StableRandom(f.Id + "#rank");
        // The gold answer uses the fact's first answer template, and so do the wrong ones: only the content differs.
        int template = rng.Next(Templates.Answers[(f.Task, f.Lang)].Length);
        string Render(Dictionary<string, string> values) => Templates.Render(Templates.Answers[(f.Task, f.Lang)][template], f.With(values));
        var gold = Render(f.A);
        var near = Render(f.Near!);
        if (!IsWrong(near, f) || near == gold) return;
        string? other = null, offTopic = null;
        for (int attempt = 0; attempt < 6 && other is null; attempt++)
        {
            var o = sameTask[rng.Next(sameTask.Count)];
            var candidate = Render(o.A);
            if (o.Key != f.Key && IsWrong(candidate, f) && candidate != near) other = candidate;
        }
        for (int attempt = 0; attempt < 6 && offTopic is null; attempt++)
        {
            var o = sameLang[rng.Next(sameLang.Count)];
            if (o.Task == f.Task) continue;
            var candidate = Answer(o, o.A, rng);
            if (IsWrong(candidate, f)) offTopic = candidate;
        }
        if (other is null || offTopic is null) return;
        var prompt = Prompt(f, rng);
        var decline = SpecialDialogues.DeclineKnown(f, rng);
        if (!IsWrong(decline, f)) decline = SpecialDialogues.DeclineShort(f.Lang, rng);
        Rankings.Add(new RankingRecord(Id(f.Id, 0), f.Task, f.Lang, [new("user", prompt)], [gold, near, other, decline, offTopic]));
    }

    /// <summary>A worse answer must not give any accepted answer, nor the same raw answer.</summary>
    bool IsWrong(string answer, Fact f) => !AnswerMatcher.IsMatch(answer, f.Accepted, knowledge.T2S);
}
