using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Training.Formats;
using ChatForge.Training.Preference;
using ChatForge.Training.Reward;
using ChatForge.Training.Stages;

namespace ChatForge.Training.Tests;

public class StageTrainerTests
{
    // Held-out prompts come from the same distribution as the training ones (every fifth question number):
    // a tiny model overfits 20 prompts, so digits it never saw in a position would test memorisation instead.
    static List<RankingRecord> Train => Rankings(Enumerable.Range(0, 50).Where(i => i % 5 != 0));
    static List<RankingRecord> HeldOut => Rankings(Enumerable.Range(0, 50).Where(i => i % 5 == 0));

    static List<RankingRecord> Rankings(int count, int offset = 0) => Rankings(Enumerable.Range(offset, count));

    static List<RankingRecord> Rankings(IEnumerable<int> ids) => ids.Select(i => new RankingRecord($"r{i}", "test", "en", [new("user", $"question {i}")], ["Paris", "yes", "no", "question"])).ToList();

    static string SftModel(TempFolder dir)
    {
        string path = Path.Combine(dir.Path, "sft");
        Checkpoint.Save(path, new Transformer(TinyWorld.Config(context: 64), seed: 31).Parameters);
        return path;
    }

    [Fact]
    public void Reward_trainer_reaches_high_held_out_accuracy_and_resumes_exactly()
    {
        using var dir = new TempFolder();
        string sft = SftModel(dir);
        var options = new StageOptions { Steps = 80, Batch = 2, LearningRate = 1e-2f, WarmupSteps = 2, EvalEvery = 80, CheckpointEvery = 40, Seed = 3 };
        var full = RewardTrainer.Start(sft, Path.Combine(dir.Path, "full"), TinyWorld.Tokenizer, Train, HeldOut, options).Run();
        Assert.True(full.Metrics["pairwise_accuracy"] >= 0.9, $"held-out pairwise accuracy {full.Metrics["pairwise_accuracy"]}; losses {string.Join(" ", full.Losses.Where((_, i) => i % 8 == 0).Select(l => l.ToString("F3")))}");

        var first = RewardTrainer.Start(sft, Path.Combine(dir.Path, "split"), TinyWorld.Tokenizer, Train, HeldOut, options);
        using (var cts = new CancellationTokenSource())
        {
            first.Loop.Progress += e => { if (e is StageStep { Step: 40 }) cts.Cancel(); };
            first.Run(cts.Token);
        }
        var rest = RewardTrainer.Resume(Path.Combine(dir.Path, "split"), TinyWorld.Tokenizer, Train, HeldOut).Run();
        var resumed = full.Losses.Take(40).Concat(rest.Losses).ToArray();
        for (int i = 0; i < full.Losses.Length; i++) Assert.Equal(full.Losses[i], resumed[i], 5);
    }

    [Fact]
    public void Dpo_trainer_learns_the_preferences_and_resumes()
    {
        using var dir = new TempFolder();
        string sft = SftModel(dir);
        var options = new StageOptions { Steps = 12, Batch = 3, LearningRate = 3e-3f, WarmupSteps = 1, EvalEvery = 12, CheckpointEvery = 6, Seed = 4, Beta = 0.5f };
        var trainer = DpoTrainer.Start(sft, Path.Combine(dir.Path, "dpo"), TinyWorld.Tokenizer, Rankings(8), Rankings(3, 200), options);
        double before = trainer.Evaluate()["val_loss"];
        var summary = trainer.Run();
        Assert.True(summary.Metrics["val_loss"] < before, $"DPO held-out loss {before} → {summary.Metrics["val_loss"]}");
        Assert.True(summary.Metrics["preference_accuracy"] >= 0.9, $"held-out preference accuracy {summary.Metrics["preference_accuracy"]}");

        var more = DpoTrainer.Resume(sft, Path.Combine(dir.Path, "dpo"), TinyWorld.Tokenizer, Rankings(8), Rankings(3, 200), options with { Steps = 14 }).Run();
        Assert.Equal(12, more.StartStep);
        Assert.Equal(14, more.Step);
    }

    [Fact]
    public void Dpo_unknown_repeat_trains_like_the_unknown_rankings_written_out_that_many_times_and_survives_resume()
    {
        using var dir = new TempFolder();
        string sft = SftModel(dir);
        var options = new StageOptions { Steps = 6, Batch = 3, LearningRate = 3e-3f, WarmupSteps = 1, EvalEvery = 6, CheckpointEvery = 3, Seed = 5, Beta = 0.5f };
        var rankings = Rankings(4);
        rankings[1] = rankings[1] with { Task = "unknown" };
        rankings[3] = rankings[3] with { Task = "unknown", Source = "server" }; // not the data pipeline's: never repeated
        var written = rankings.SelectMany(r => Enumerable.Repeat(r, r.Task == "unknown" && r.Source == "data" ? 3 : 1)).ToList();
        var repeated = DpoTrainer.Start(sft, Path.Combine(dir.Path, "repeat"), TinyWorld.Tokenizer, rankings, Rankings(2, 200), options, unknownRepeat: 3).Run();
        var copies = DpoTrainer.Start(sft, Path.Combine(dir.Path, "copies"), TinyWorld.Tokenizer, written, Rankings(2, 200), options).Run();
        Assert.Equal(copies.Losses, repeated.Losses);

        // Interrupted at step 3 and resumed without the option: the run keeps its repeat.
        var first = DpoTrainer.Start(sft, Path.Combine(dir.Path, "split"), TinyWorld.Tokenizer, rankings, Rankings(2, 200), options, unknownRepeat: 3);
        using (var cts = new CancellationTokenSource())
        {
            first.Loop.Progress += e => { if (e is StageStep { Step: 3 }) cts.Cancel(); };
            first.Run(cts.Token);
        }
        var rest = DpoTrainer.Resume(sft, Path.Combine(dir.Path, "split"), TinyWorld.Tokenizer, rankings, Rankings(2, 200)).Run();
        Assert.Equal(repeated.Losses[3..], rest.Losses);
        Assert.Throws<ArgumentException>(() => DpoTrainer.Start(sft, Path.Combine(dir.Path, "zero"), TinyWorld.Tokenizer, rankings, [], options, unknownRepeat: 0));
    }
}
