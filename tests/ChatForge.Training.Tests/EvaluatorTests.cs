using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Training.Evaluation;
using ChatForge.Training.Sft;
using ChatForge.Training.Stages;

namespace ChatForge.Training.Tests;

public class EvaluatorTests
{
    [Fact]
    public void Accuracy_and_refusals_are_counted_per_task_from_real_generations()
    {
        using var dir = new TempFolder();
        string path = Path.Combine(dir.Path, "base");
        Checkpoint.Save(path, new Transformer(TinyWorld.Config(context: 64), seed: 41).Parameters);
        // Teach the tiny model one reply, "Paris", whatever the question.
        var dialogues = Enumerable.Range(0, 30).Select(i => new SftRecord($"d{i}", "capital", "en", [new("user", $"question {i}"), new("assistant", "Paris")])).ToList();
        var trainer = SftTrainer.Start(path, Path.Combine(dir.Path, "run"), TinyWorld.Tokenizer, dialogues, [],
            new StageOptions { Steps = 40, Batch = 4, SequenceLength = 48, LearningRate = 5e-3f, WarmupSteps = 2, EvalEvery = 40, CheckpointEvery = 40 });
        trainer.Run();

        EvalRecord Item(string id, string task, string set, params string[] answers) => new(id, task, "en", set, [new("user", $"question {id}")], answers);
        var items = new List<EvalRecord>
        {
            Item("90", "capital", "heldout", "Paris"), Item("91", "capital", "heldout", "paris", "Paris, France"),
            Item("92", "capital", "heldout", "Berlin"), Item("93", "word", "heldout", "Paris"),
            Item("94", "unknown", "absent"),
        };
        var report = Evaluator.Run(trainer.Loop.Model.Parameters, TinyWorld.Tokenizer, items, maxNewTokens: 8);

        Assert.All(report.Answers, a => Assert.Equal("Paris", a.Answer));
        var capital = report.PerTask.Single(t => t.Task == "capital");
        Assert.Equal((3, 2), (capital.Items, capital.Correct));
        Assert.Equal(1.0, report.PerTask.Single(t => t.Task == "word").Accuracy);
        Assert.Equal(0.75, report.HeldOutAccuracy, 6);
        Assert.Equal(0.0, report.AbsentRefusalRate); // it invents "Paris" instead of saying it does not know
        Assert.InRange(report.MeanAnswerTokens, 1, 4);
    }
}
