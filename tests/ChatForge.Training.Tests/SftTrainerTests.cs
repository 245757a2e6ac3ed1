using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Training.Formats;
using ChatForge.Training.Sft;
using ChatForge.Training.Stages;

namespace ChatForge.Training.Tests;

public class SftTrainerTests
{
    static List<SftRecord> Dialogues(int count, int offset = 0) => Enumerable.Range(offset, count).Select(i => new SftRecord($"d{i}", "test", "en", [new("user", $"question {i}"), new("assistant", i % 2 == 0 ? "yes" : "no")])).ToList();

    static string PretrainedModel(TempFolder dir)
    {
        string path = Path.Combine(dir.Path, "base");
        Checkpoint.Save(path, new Transformer(TinyWorld.Config(context: 64), seed: 21).Parameters);
        return path;
    }

    static readonly StageOptions Options = new()
    {
        Steps = 8, Batch = 2, SequenceLength = 48, LearningRate = 3e-3f, WarmupSteps = 2, EvalEvery = 4, CheckpointEvery = 4, Seed = 5,
    };

    [Fact]
    public void Sft_lowers_the_validation_loss()
    {
        using var dir = new TempFolder();
        var trainer = SftTrainer.Start(PretrainedModel(dir), Path.Combine(dir.Path, "run"), TinyWorld.Tokenizer, Dialogues(40), Dialogues(6, 1000), Options with { Steps = 30, EvalEvery = 30 });
        double before = trainer.Evaluate()["val_loss"];
        var summary = trainer.Run();
        Assert.Equal("completed", summary.Status);
        Assert.True(summary.Metrics["val_loss"] < before * 0.5, $"val loss {before} → {summary.Metrics["val_loss"]}");
        Assert.NotNull(Checkpoint.FindLatest(Path.Combine(dir.Path, "run", "checkpoints")));
    }

    [Fact]
    public void A_resumed_run_repeats_the_uninterrupted_loss_curve()
    {
        using var dir = new TempFolder();
        string model = PretrainedModel(dir);
        var full = SftTrainer.Start(model, Path.Combine(dir.Path, "full"), TinyWorld.Tokenizer, Dialogues(30), Dialogues(4, 500), Options).Run();

        var first = SftTrainer.Start(model, Path.Combine(dir.Path, "split"), TinyWorld.Tokenizer, Dialogues(30), Dialogues(4, 500), Options with { Steps = 8 });
        using (var cts = new CancellationTokenSource())
        {
            first.Loop.Progress += e => { if (e is StageStep { Step: 4 }) cts.Cancel(); };
            var part = first.Run(cts.Token);
            Assert.Equal("interrupted", part.Status);
            Assert.Equal(4, part.Step);
        }
        var rest = SftTrainer.Resume(Path.Combine(dir.Path, "split"), TinyWorld.Tokenizer, Dialogues(30), Dialogues(4, 500)).Run();
        Assert.Equal(4, rest.StartStep);
        var resumed = full.Losses.Take(4).Concat(rest.Losses).ToArray();
        Assert.Equal(full.Losses.Length, resumed.Length);
        for (int i = 0; i < resumed.Length; i++) Assert.Equal(full.Losses[i], resumed[i], 5);
    }

    [Fact]
    public void Starting_over_an_existing_run_or_resuming_nothing_fails_clearly()
    {
        using var dir = new TempFolder();
        string model = PretrainedModel(dir), run = Path.Combine(dir.Path, "run");
        Assert.Throws<FileNotFoundException>(() => SftTrainer.Resume(run, TinyWorld.Tokenizer, Dialogues(4), []));
        SftTrainer.Start(model, run, TinyWorld.Tokenizer, Dialogues(10), [], Options with { Steps = 1 }).Run();
        var e = Assert.Throws<InvalidOperationException>(() => SftTrainer.Start(model, run, TinyWorld.Tokenizer, Dialogues(10), [], Options));
        Assert.Contains("--resume", e.Message);
    }
}
