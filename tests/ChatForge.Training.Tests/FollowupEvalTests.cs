using System.Text.Json.Nodes;
using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Training.Evaluation;
using ChatForge.Training.Formats;
using ChatForge.Training.Sft;
using ChatForge.Training.Stages;

namespace ChatForge.Training.Tests;

public class FollowupEvalTests
{
    /// <summary>A tiny model taught to answer "and then?" with "Paris" after "question i" (even i) and its answer, and with "no" when asked alone.</summary>
    static string ContextModel(TempFolder dir)
    {
        string path = Path.Combine(dir.Path, "base");
        Checkpoint.Save(path, new Transformer(TinyWorld.Config(context: 64), seed: 17).Parameters);
        var dialogues = Enumerable.Range(0, 40).Select(i => i % 2 == 0
            ? new SftRecord($"d{i}", "followup", "en", [new("user", $"question {i}"), new("assistant", "yes"), new("user", "and then?"), new("assistant", "Paris")])
            : new SftRecord($"d{i}", "followup", "en", [new("user", "and then?"), new("assistant", "no")])).ToList();
        var trainer = SftTrainer.Start(path, Path.Combine(dir.Path, "run"), TinyWorld.Tokenizer, dialogues, [],
            new StageOptions { Steps = 60, Batch = 4, SequenceLength = 64, LearningRate = 5e-3f, WarmupSteps = 2, EvalEvery = 60, CheckpointEvery = 60 });
        trainer.Run();
        string model = Path.Combine(dir.Path, "model");
        Checkpoint.Save(model, trainer.Loop.Model.Parameters);
        return model;
    }

    static EvalRecord Item(int i, string lang, string task = "followup_capital", string answer = "Paris") =>
        new($"f{i}", task, lang, "followup", [new("system", "be brief"), new("user", $"question {i}"), new("assistant", "yes"), new("user", "and then?")], [answer]);

    [Fact]
    public void The_control_asks_the_follow_up_alone_keeping_only_system_turns()
    {
        var alone = FollowupEvaluator.WithoutContext(Item(1, "en").Messages);
        Assert.Equal([("system", "be brief"), ("user", "and then?")], alone.Select(m => (m.Role, m.Content)));
    }

    [Fact]
    public void Follow_up_accuracy_with_context_is_measured_against_the_same_question_alone()
    {
        using var dir = new TempFolder();
        var model = Checkpoint.LoadParameters(ContextModel(dir));
        var items = new List<EvalRecord> { Item(0, "en"), Item(2, "zh"), Item(4, "zh", "followup_antonym", "Berlin") };
        var report = FollowupEvaluator.Run(model, TinyWorld.Tokenizer, items, maxNewTokens: 6);

        Assert.All(report.Answers, a => Assert.Equal("Paris", a.Answer));
        Assert.All(report.Answers, a => Assert.NotEqual("Paris", a.AnswerWithoutContext));
        Assert.Equal(3, report.Items);
        Assert.Equal(2.0 / 3, report.Accuracy, 6);
        Assert.Equal(0, report.AccuracyWithoutContext);
        Assert.Equal([("en", 1.0), ("zh", 0.5)], report.PerLang.Select(l => (l.Lang, l.Accuracy)));
        Assert.Equal(0, report.PerTask.Single(t => t.Task == "followup_antonym").Accuracy);
    }

    [Fact]
    public void Eval_runner_reads_followup_jsonl_caps_it_stratified_and_reports_it_in_json_and_flat_metrics()
    {
        using var dir = new TempFolder();
        string model = ContextModel(dir);
        string data = Path.Combine(dir.Path, "data");
        var items = Enumerable.Range(0, 12).Select(i => Item(i, i % 2 == 0 ? "en" : "zh", i < 10 ? "followup_capital" : "followup_antonym")).ToList();
        Jsonl.Write(Path.Combine(data, "eval", "followup.jsonl"), items);

        var (report, skipped) = EvalRunner.Run(model, TinyWorld.Tokenizer, data, options: new EvalOptions { MaxItems = 16, MaxNewTokens = 6 });
        Assert.Contains(skipped, s => s.Contains("heldout.jsonl"));
        Assert.DoesNotContain(skipped, s => s.Contains("followup.jsonl"));
        // MaxItems 16 → 4 follow-ups, round-robin over (task, language): every task and language keeps some.
        Assert.Equal(4, report.Followups!.Items);
        Assert.Equal(4, report.Followups.PerTask.Count);
        Assert.Equal(1.0, report.Followups.Accuracy);
        Assert.Equal(0.0, report.Followups.AccuracyWithoutContext);

        var json = report.ToJson();
        Assert.Null(json["followups"]!["answers"]);
        Assert.Equal(report.Metrics().OrderBy(kv => kv.Key), EvalReport.Metrics(JsonNode.Parse(json.ToJsonString())!.AsObject()).OrderBy(kv => kv.Key));
        Assert.Equal(1.0, report.Metrics()["followup_accuracy/zh"]);
        Assert.Equal(0.0, report.Metrics()["followup_accuracy_without_context"]);

        File.Delete(Path.Combine(data, "eval", "followup.jsonl"));
        var (without, skippedNow) = EvalRunner.Run(model, TinyWorld.Tokenizer, data, options: new EvalOptions { MaxItems = 16, MaxNewTokens = 6 });
        Assert.Null(without.Followups);
        Assert.Contains(skippedNow, s => s.Contains("followup.jsonl not found"));
    }

    [Fact]
    public void A_follow_up_record_without_an_earlier_answer_is_rejected_with_file_and_line()
    {
        using var dir = new TempFolder();
        string path = Path.Combine(dir.Path, "followup.jsonl");
        File.WriteAllText(path, """{"id":"x","task":"followup_capital","lang":"en","set":"followup","messages":[{"role":"user","content":"And its capital?"}],"answers":["Paris"]}""" + "\n");
        var e = Assert.Throws<InvalidDataException>(() => Jsonl.ReadEval(path));
        Assert.Contains("followup.jsonl:1", e.Message);
        Assert.Contains("earlier assistant turn", e.Message);
    }
}
