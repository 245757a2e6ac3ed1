using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Training.Evaluation;
using ChatForge.Training.Reward;
using ChatForge.Training.Sft;
using ChatForge.Training.Stages;

namespace ChatForge.Training.Tests;

public class WinRateTests
{
    /// <summary>A tiny model that answers <paramref name="reply"/> to every question.</summary>
    static ParameterBuffer Replying(TempFolder dir, string reply)
    {
        string path = Path.Combine(dir.Path, "base-" + reply);
        Checkpoint.Save(path, new Transformer(TinyWorld.Config(context: 64), seed: 41).Parameters);
        var dialogues = Enumerable.Range(0, 30).Select(i => new SftRecord($"d{i}", "t", "en", [new("user", $"question {i}"), new("assistant", reply)])).ToList();
        var trainer = SftTrainer.Start(path, Path.Combine(dir.Path, "run-" + reply), TinyWorld.Tokenizer, dialogues, [],
            new StageOptions { Steps = 40, Batch = 4, SequenceLength = 48, LearningRate = 5e-3f, WarmupSteps = 2, EvalEvery = 40, CheckpointEvery = 40 });
        trainer.Run();
        return trainer.Loop.Model.Parameters;
    }

    [Fact]
    public void Win_rate_scores_the_policy_as_policy_and_swapping_the_models_mirrors_wins_and_losses()
    {
        using var dir = new TempFolder();
        var tok = TinyWorld.Tokenizer;
        var paris = Replying(dir, "Paris");
        var no = Replying(dir, "no");
        var rm = RewardScorer.FromSft(paris);
        var w = rm[rm.Layout.Score!];
        for (int j = 0; j < w.Length; j++) w[j] = (j * 7 % 5 - 2) * 0.2f;
        var scorer = new RewardScorer(new Transformer(rm), tok);
        var prompts = Enumerable.Range(0, 10).Select(i => TinyWorld.Ask($"question {i}")).ToList();

        var parisFirst = ModelEvaluations.WinRate(paris, no, scorer, tok, prompts, maxNewTokens: 5);
        var noFirst = ModelEvaluations.WinRate(no, paris, scorer, tok, prompts, maxNewTokens: 5);
        // Every answer differs, so nothing ties, and the policy's mean is the score of its own answer.
        Assert.Equal(0, parisFirst.Ties);
        Assert.Equal(10, parisFirst.Wins + parisFirst.Losses);
        double parisScore = scorer.Score([scorer.Render(prompts[0], "Paris")])[0];
        Assert.Equal(parisScore, parisFirst.MeanPolicyScore, 3);
        Assert.Equal(parisFirst.MeanPolicyScore, noFirst.MeanBaselineScore, 5);
        Assert.Equal((parisFirst.Wins, parisFirst.Losses), (noFirst.Losses, noFirst.Wins));
        Assert.Equal(1.0, parisFirst.WinRate + noFirst.WinRate, 6);
        Assert.Equal((double)parisFirst.Wins / 10, parisFirst.WinRate, 6);

        var self = ModelEvaluations.WinRate(no, no, scorer, tok, prompts, maxNewTokens: 5);
        Assert.Equal((0, 10, 0, 0.5), (self.Wins, self.Ties, self.Losses, self.WinRate));
    }
}
