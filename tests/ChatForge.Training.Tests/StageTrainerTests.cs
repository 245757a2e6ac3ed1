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
}
