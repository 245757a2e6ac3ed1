using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;
using ChatForge.Training.Ppo;
using ChatForge.Training.Reward;

namespace ChatForge.Training.Tests;

public class PpoTests
{
    /// <summary>Reward = share of answer tokens with an id below a bound: a toy PPO must learn to prefer those tokens.</summary>
    sealed class TokenReward(int bound) : IRewardFunction
    {
        public float[] Score(IReadOnlyList<Rollout> rollouts) =>
            rollouts.Select(r => (float)r.Tokens.Skip(r.PromptLength).Count(t => t < bound) / r.AnswerLength).ToArray();
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(0.7f)] // the tempered policy: sampling, ratios and KL at T, and the gradient through h / T
    public void Ppo_learns_a_toy_reward_with_bounded_kl(float temperature)
    {
        var tok = TinyWorld.Tokenizer;
        var config = TinyWorld.Config(context: 64);
        var actor = new Transformer(config, seed: 11);
        var reference = new Transformer(config, seed: 11);
        var critic = new Transformer(RewardScorer.FromSft(new Transformer(config, seed: 11).Parameters));
        // A quarter of the vocabulary is "good": a random policy scores about 0.25.
        var trainer = new PpoTrainer(actor, reference, critic, new TokenReward(tok.VocabSize / 4), tok.StopTokenIds, new PpoOptions
        {
            PromptsPerIteration = 8, MaxNewTokens = 8, Epochs = 2, MiniBatch = 4, KlBeta = 0.01f,
            ActorLearningRate = 1e-2f, CriticLearningRate = 3e-3f, Seed = 3, Temperature = temperature,
        });
        var prompts = Enumerable.Range(0, 8).Select(i => tok.RenderChat(TinyWorld.Ask($"question {i}"), true).Ids).ToArray();

        var first = trainer.Iterate(prompts).Stats;
        PpoIterationStats last = first;
        for (int i = 0; i < 40; i++) last = trainer.Iterate(prompts).Stats;
        Assert.True(last.MeanScore > first.MeanScore + 0.3f && last.MeanScore > 0.6f, $"mean reward {first.MeanScore} → {last.MeanScore}");
        Assert.True(float.IsFinite(last.MeanKl) && last.MeanKl < 50, $"KL {last.MeanKl}");
        Assert.InRange(last.ClipFraction, 0f, 1f);
        Assert.True(last.Entropy < first.Entropy, $"entropy {first.Entropy} → {last.Entropy}");
    }

    [Fact]
    public void Adaptive_beta_moves_by_the_clipped_kl_error_over_the_horizon()
    {
        // A target KL far above anything spent: the error is clipped to −0.2 every iteration, so after three iterations of
        // 8 answers β = 0.05 · (1 − 0.2 · 8 / horizon)³. Ziegler's 10,000 barely moves it; a horizon of 40 does.
        var tok = TinyWorld.Tokenizer;
        var config = TinyWorld.Config(context: 64);
        var prompts = Enumerable.Range(0, 8).Select(i => tok.RenderChat(TinyWorld.Ask($"question {i}"), true).Ids).ToArray();
        foreach (var horizon in new[] { 10_000, 40 })
        {
            var trainer = new PpoTrainer(new Transformer(config, seed: 11), new Transformer(config, seed: 11),
                new Transformer(RewardScorer.FromSft(new Transformer(config, seed: 11).Parameters)), new TokenReward(tok.VocabSize / 4), tok.StopTokenIds,
                new PpoOptions { PromptsPerIteration = 8, MaxNewTokens = 8, KlBeta = 0.05f, TargetKl = 1e6f, KlHorizon = horizon, ActorLearningRate = 1e-2f, Seed = 3 });
            float beta = 0;
            for (int i = 0; i < 3; i++) beta = trainer.Iterate(prompts).Stats.Beta;
            Assert.Equal(0.05f * MathF.Pow(1 - 0.2f * 8 / horizon, 3), beta, 5);
        }
        Assert.Throws<ArgumentException>(() => new PpoOptions { KlHorizon = 0 }.Validate());
    }

    [Fact]
    public void Rollouts_carry_consistent_per_token_quantities()
    {
        var tok = TinyWorld.Tokenizer;
        var config = TinyWorld.Config(context: 64);
        var critic = new Transformer(RewardScorer.FromSft(new Transformer(config, seed: 2).Parameters));
        var trainer = new PpoTrainer(new Transformer(config, 2), new Transformer(config, 2), critic, new TokenReward(5), tok.StopTokenIds,
            new PpoOptions { PromptsPerIteration = 3, MaxNewTokens = 6, Epochs = 1, MiniBatch = 3, Seed = 9 });
        var prompts = Enumerable.Range(0, 3).Select(i => tok.RenderChat(TinyWorld.Ask($"q{i}"), true).Ids).ToArray();
        var (stats, rollouts) = trainer.Iterate(prompts);
        foreach (var r in rollouts)
        {
            Assert.InRange(r.AnswerLength, 1, 7); // up to 6 sampled tokens plus the closing one
            Assert.Equal(r.AnswerLength, r.LogProbs.Length);
            Assert.Equal(r.AnswerLength, r.Advantages.Length);
            // Actor and reference start identical: the KL penalty is zero, so rewards are only the final score.
            Assert.All(r.LogProbs.Zip(r.ReferenceLogProbs), p => Assert.Equal(p.First, p.Second, 4));
            Assert.All(r.Rewards.SkipLast(1), x => Assert.Equal(0f, x, 5));
        }
        Assert.Equal(0f, stats.MeanKl, 3);
    }

    /// <summary>Rollout log-probs are those of the distribution sampled from: log softmax(logits / T), logits from the inference engine.</summary>
    [Theory]
    [InlineData(1f)]
    [InlineData(0.5f)]
    public void Rollout_log_probs_are_the_tempered_policy(float temperature)
    {
        var tok = TinyWorld.Tokenizer;
        var config = TinyWorld.Config(context: 64);
        var actor = new Transformer(config, 5);
        var critic = new Transformer(RewardScorer.FromSft(new Transformer(config, 5).Parameters));
        var trainer = new PpoTrainer(actor, new Transformer(config, 5), critic, new TokenReward(5), tok.StopTokenIds,
            new PpoOptions { PromptsPerIteration = 2, MaxNewTokens = 5, Epochs = 1, MiniBatch = 2, Seed = 4, Temperature = temperature, ActorLearningRate = 0 });
        var prompts = Enumerable.Range(0, 2).Select(i => tok.RenderChat(TinyWorld.Ask($"q{i}"), true).Ids).ToArray();
        var (_, rollouts) = trainer.Iterate(prompts);

        var model = new InferenceModel(actor.Parameters, WeightFormat.F32);
        foreach (var r in rollouts)
        {
            var cache = model.CreateCache(1);
            int slot = cache.Allocate();
            var logits = new float[r.Tokens.Length * model.VocabSize];
            model.Forward(r.Tokens.Select((t, i) => new ForwardRow(slot, t, i, true)).ToArray(), cache, logits);
            for (int t = 0; t < r.AnswerLength; t++)
            {
                var row = logits.AsSpan((r.PromptLength + t - 1) * model.VocabSize, model.VocabSize).ToArray().Select(z => (double)z / temperature).ToArray();
                double max = row.Max(), logSum = max + Math.Log(row.Sum(z => Math.Exp(z - max)));
                Assert.Equal(row[r.Tokens[r.PromptLength + t]] - logSum, r.LogProbs[t], 3);
            }
        }
    }
}
