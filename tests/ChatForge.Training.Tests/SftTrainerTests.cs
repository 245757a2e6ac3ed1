using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Engine.Training;
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

    /// <summary>Pretraining token shards: train/000.bin holds 0, 1, 2, … (mod 300), so a window's targets are its inputs + 1.</summary>
    static string Shards(TempFolder dir)
    {
        string root = Path.Combine(dir.Path, "tokens");
        foreach (var split in new[] { "train", "val" })
        {
            Directory.CreateDirectory(Path.Combine(root, split));
            TokenShard.Write(Path.Combine(root, split, "000.bin"), Enumerable.Range(0, 3000).Select(i => i % 300).ToArray(), TinyWorld.Tokenizer.VocabSize);
        }
        return root;
    }

    [Fact]
    public void Pretrain_mix_replaces_that_fraction_of_rows_by_shard_windows_with_loss_on_every_token()
    {
        using var dir = new TempFolder();
        using var trainer = SftTrainer.Start(PretrainedModel(dir), Path.Combine(dir.Path, "run"), TinyWorld.Tokenizer, Dialogues(60), [],
            Options with { Batch = 4, PretrainMix = 0.3f }, Shards(dir));
        int mixed = 0, rows = 0;
        for (long step = 0; step < 10; step++)
        {
            var (n, pretrainRows) = trainer.NextBatch(step, out var inputs, out var targets);
            Assert.Equal(4, n);
            for (int r = 0; r < n; r++)
            {
                var x = inputs.Slice(r * 48, 48);
                var y = targets.Slice(r * 48, 48);
                bool isPretrain = r >= n - pretrainRows;
                if (isPretrain)
                    for (int j = 0; j < 48; j++) Assert.Equal((x[j] + 1) % 300, y[j]); // every token is a target
                else
                    Assert.Contains(-1, y.ToArray()); // SFT rows: user turns and padding carry no loss
            }
            mixed += pretrainRows; rows += n;
        }
        Assert.Equal(12, mixed); // 30% of 40 rows, exactly
        Assert.Equal([1, 1, 1, 1, 2, 1, 1, 1, 1, 2], Enumerable.Range(0, 10).Select(s => SftTrainer.PretrainRows(s, 4, 0.3f)));
        Assert.All(Enumerable.Range(0, 50), s => Assert.Equal(0, SftTrainer.PretrainRows(s, 4, 0)));
    }

    [Fact]
    public void A_resumed_run_with_pretrain_mix_repeats_the_uninterrupted_loss_curve()
    {
        using var dir = new TempFolder();
        string model = PretrainedModel(dir), tokens = Shards(dir);
        var options = Options with { PretrainMix = 0.5f };
        StageSummary full;
        using (var t = SftTrainer.Start(model, Path.Combine(dir.Path, "full"), TinyWorld.Tokenizer, Dialogues(30), Dialogues(4, 500), options, tokens)) full = t.Run();

        using (var first = SftTrainer.Start(model, Path.Combine(dir.Path, "split"), TinyWorld.Tokenizer, Dialogues(30), Dialogues(4, 500), options, tokens))
        using (var cts = new CancellationTokenSource())
        {
            first.Loop.Progress += e => { if (e is StageStep { Step: 3 }) cts.Cancel(); };
            Assert.Equal(3, first.Run(cts.Token).Step);
        }
        // The mix is saved with the run: a resume without it still needs the shards, and keeps the saved fraction.
        var e = Assert.Throws<ArgumentException>(() => SftTrainer.Resume(Path.Combine(dir.Path, "split"), TinyWorld.Tokenizer, Dialogues(30), Dialogues(4, 500)));
        Assert.Contains("--tokens", e.Message);
        using var resumed = SftTrainer.Resume(Path.Combine(dir.Path, "split"), TinyWorld.Tokenizer, Dialogues(30), Dialogues(4, 500), Options with { Steps = 8 }, tokens);
        Assert.Equal(0.5f, resumed.Loop.Options.PretrainMix);
        var rest = resumed.Run();
        var curve = full.Losses.Take(3).Concat(rest.Losses).ToArray();
        Assert.Equal(full.Losses.Length, curve.Length);
        for (int i = 0; i < curve.Length; i++) Assert.Equal(full.Losses[i], curve[i], 5);
        Assert.Equal(full.Metrics["val_loss"], rest.Metrics["val_loss"], 5);
    }

    [Fact]
    public void Pretrain_mix_outside_zero_to_one_or_without_shards_fails_clearly()
    {
        using var dir = new TempFolder();
        string model = PretrainedModel(dir);
        var e = Assert.Throws<ArgumentException>(() => SftTrainer.Start(model, Path.Combine(dir.Path, "a"), TinyWorld.Tokenizer, Dialogues(10), [], Options with { PretrainMix = 1f }));
        Assert.Contains("--pretrain-mix", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => SftTrainer.Start(model, Path.Combine(dir.Path, "b"), TinyWorld.Tokenizer, Dialogues(10), [],
            Options with { PretrainMix = 0.2f }, Path.Combine(dir.Path, "no-tokens")));
    }
}
