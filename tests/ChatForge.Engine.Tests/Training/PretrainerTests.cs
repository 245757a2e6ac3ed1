using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Engine.Training;

namespace ChatForge.Engine.Tests.Training;

public sealed class PretrainerTests
{
    static readonly ModelConfig Tiny = ModelConfig.Gpt2Style(vocab: 48, dModel: 16, layers: 2, heads: 2, context: 16);

    static PretrainOptions TinyOptions(int steps) => new()
    {
        Steps = steps, Batch = 2, SequenceLength = 16, GradAccumulation = 2, LearningRate = 3e-3f, WarmupSteps = 2,
        EvalEvery = 4, EvalBatches = 2, CheckpointEvery = 3, KeepCheckpoints = 10, Seed = 21, TokensPerByte = 0.5,
    };

    static TempRun TinyData()
    {
        var temp = new TempRun();
        temp.WriteShards(TempRun.PatternTokens(3000, 48, 1), TempRun.PatternTokens(400, 48, 2), 48);
        return temp;
    }

    [Fact]
    public void Resumed_run_continues_exactly_like_an_uninterrupted_one()
    {
        using var temp = TinyData();
        using var data = PretrainData.Open(temp.Data);

        var whole = Pretrainer.Start(Tiny, data, TinyOptions(8), temp.Run("whole")).Run();
        Assert.Equal("completed", whole.Status);
        Assert.Equal(8, whole.Losses.Length);

        // Interrupted after step 5 (Ctrl+C): a checkpoint is saved there. Then simulate a kill instead by
        // deleting it, so the resume starts from the periodic checkpoint at step 3.
        using var cts = new CancellationTokenSource();
        var first = Pretrainer.Start(Tiny, data, TinyOptions(8), temp.Run("split"));
        first.Progress += e => { if (e is StepCompleted { Step: 5 }) cts.Cancel(); };
        var part = first.Run(cts.Token);
        Assert.Equal("interrupted", part.Status);
        Assert.Equal(5, part.Step);
        Assert.Equal(whole.Losses[..5], part.Losses);
        string checkpoints = Path.Combine(temp.Run("split"), "checkpoints");
        Assert.EndsWith("step-00000005", Checkpoint.FindLatest(checkpoints));
        Directory.Delete(Checkpoint.StepDirectory(checkpoints, 5), recursive: true);

        var resumed = Pretrainer.Resume(temp.Run("split"), data, TinyOptions(8));
        Assert.Equal(3, resumed.Step);
        var rest = resumed.Run();
        Assert.Equal(3, rest.StartStep);
        Assert.Equal("completed", rest.Status);
        Assert.Equal(whole.Losses[3..], rest.Losses);
        Assert.Equal(whole.FinalValidationLoss, rest.FinalValidationLoss);
        var a = Checkpoint.LoadParameters(Checkpoint.FindLatest(Path.Combine(temp.Run("whole"), "checkpoints"))!);
        var b = Checkpoint.LoadParameters(Checkpoint.FindLatest(checkpoints)!);
        Assert.Equal(a.Data, b.Data);
        Assert.True(File.Exists(Path.Combine(temp.Run("split"), "summary.json")));
    }

    [Fact]
    public void Resume_refuses_options_that_would_change_the_run()
    {
        using var temp = TinyData();
        using var data = PretrainData.Open(temp.Data);
        Pretrainer.Start(Tiny, data, TinyOptions(3), temp.Run()).Run();
        var e = Assert.Throws<ArgumentException>(() => Pretrainer.Resume(temp.Run(), data, TinyOptions(6) with { Batch = 3 }));
        Assert.Contains("--batch 3", e.Message);
        Assert.Contains("--batch 2", e.Message);
        var done = Assert.Throws<ArgumentException>(() => Pretrainer.Resume(temp.Run(), data, TinyOptions(3)));
        Assert.Contains("step 3", done.Message);
        Assert.Throws<InvalidOperationException>(() => Pretrainer.Start(Tiny, data, TinyOptions(3), temp.Run()));
        Assert.Equal(TinyOptions(3), Pretrainer.SavedOptions(temp.Run()));
    }

    [Fact]
    public void Divergence_stops_naming_the_step_and_the_last_good_checkpoint()
    {
        using var temp = TinyData();
        using var data = PretrainData.Open(temp.Data);
        var options = TinyOptions(10) with { LearningRate = 1e30f, WarmupSteps = 0, CheckpointEvery = 1, GradClip = 0 };
        var trainer = Pretrainer.Start(Tiny, data, options, temp.Run());
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run());
        Assert.Equal(2, e.Step);
        Assert.Contains("step 2", e.Message);
        Assert.EndsWith("step-00000001", e.LastCheckpoint);
        Assert.Contains(e.LastCheckpoint!, e.Message);
        Assert.Equal(Checkpoint.FindLatest(Path.Combine(temp.Run(), "checkpoints")), e.LastCheckpoint);
    }

    [Fact]
    public void Missing_or_bad_data_is_reported_before_training()
    {
        using var temp = new TempRun();
        var missing = Assert.Throws<DirectoryNotFoundException>(() => PretrainData.Open(temp.Data));
        Assert.Contains(temp.Data, missing.Message);

        Directory.CreateDirectory(Path.Combine(temp.Data, "train"));
        var noShards = Assert.Throws<FileNotFoundException>(() => PretrainData.Open(temp.Data));
        Assert.Contains("No token shards", noShards.Message);
        Assert.Contains("train", noShards.Message);

        TokenShard.Write(Path.Combine(temp.Data, "train", "000.bin"), [1, 2, 3], 16);
        var noVal = Assert.Throws<DirectoryNotFoundException>(() => PretrainData.Open(temp.Data));
        Assert.Contains("'val'", noVal.Message);

        Directory.CreateDirectory(Path.Combine(temp.Data, "val"));
        File.WriteAllBytes(Path.Combine(temp.Data, "val", "000.bin"), [1, 2, 3]);
        var corrupt = Assert.Throws<InvalidDataException>(() => PretrainData.Open(temp.Data));
        Assert.Contains(Path.Combine("val", "000.bin"), corrupt.Message);

        TokenShard.Write(Path.Combine(temp.Data, "val", "000.bin"), [1, 2, 3], 4096);
        using var data = PretrainData.Open(temp.Data);
        var vocab = Assert.Throws<ArgumentException>(() => Pretrainer.Start(Tiny, data, TinyOptions(2), temp.Run()));
        Assert.Contains("4096", vocab.Message);
        Assert.Contains("48", vocab.Message);
    }

    [Fact]
    public void Learns_real_text_fast()
    {
        // A short run (~100k tokens) on ~60 KB of real English: validation loss must beat the unigram entropy
        // clearly (≈ 3.8 nats here; a context-free model cannot go below it, so this needs learned context).
        var (valLoss, unigram) = TrainOnRealText(maxBytes: 60_000, steps: 120, dModel: 64, layers: 2);
        Assert.True(valLoss < unigram - 0.5, $"val loss {valLoss:F3} nats vs unigram entropy {unigram:F3} nats");
    }

    [Fact]
    [Trait("Category", "Long")]
    public void Learns_real_text_well()
    {
        var (valLoss, unigram) = TrainOnRealText(maxBytes: 300_000, steps: 800, dModel: 96, layers: 3);
        Assert.True(valLoss < 0.7 * unigram, $"val loss {valLoss:F3} nats vs unigram entropy {unigram:F3} nats");
    }

    /// <summary>
    /// Byte-level (vocab 256) training on the licence texts every Debian system ships (real prose, read at
    /// test time only). The last 10% is the validation split. Returns (validation loss, unigram entropy of
    /// the validation bytes under the training bytes' unigram distribution — the loss of the best model that
    /// ignores context), both in nats.
    /// </summary>
    static (double ValLoss, double Unigram) TrainOnRealText(int maxBytes, int steps, int dModel, int layers)
    {
        const string dir = "/usr/share/common-licenses";
        string[] names = ["Apache-2.0", "MPL-2.0", "Artistic", "MPL-1.1", "GPL-3", "LGPL-2.1", "GPL-2"];
        var files = names.Select(n => Path.Combine(dir, n)).Where(File.Exists).ToList();
        Assert.True(files.Count >= 3, $"expected the Debian licence texts in {dir} (package base-files)");
        var bytes = files.SelectMany(File.ReadAllBytes).Take(maxBytes).ToArray();
        int split = bytes.Length * 9 / 10;
        var train = bytes[..split].Select(b => (int)b).ToArray();
        var val = bytes[split..].Select(b => (int)b).ToArray();

        var counts = new double[256];
        foreach (int b in train) counts[b]++;
        double unigram = 0;
        foreach (int b in val) unigram -= Math.Log((counts[b] + 0.5) / (train.Length + 128.0)); // add-½ smoothing
        unigram /= val.Length;

        using var temp = new TempRun();
        temp.WriteShards(train, val, 256);
        using var data = PretrainData.Open(temp.Data);
        var config = ModelConfig.Gpt2Style(vocab: 256, dModel: dModel, layers: layers, heads: 4, context: 64);
        var options = new PretrainOptions
        {
            Steps = steps, Batch = 16, SequenceLength = 64, LearningRate = 3e-3f, WarmupSteps = steps / 10,
            EvalEvery = steps, EvalBatches = 8, CheckpointEvery = steps, Seed = 3, WeightDecay = 0.01f,
        };
        var summary = Pretrainer.Start(config, data, options, temp.Run()).Run();
        return (summary.FinalValidationLoss!.Value, unigram);
    }
}
