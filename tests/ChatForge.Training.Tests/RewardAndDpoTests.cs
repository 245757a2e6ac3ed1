using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;
using ChatForge.Training.Preference;
using ChatForge.Training.Reward;

namespace ChatForge.Training.Tests;

public class RewardAndDpoTests
{
    static void AdamStep(Transformer model, ParameterBuffer m, ParameterBuffer v, long step, float lr)
    {
        GradClip.ClipByGlobalNorm(model.Grads.Data, 1f);
        AdamW.Step(model.Parameters, model.Grads, m, v, new AdamWOptions { WeightDecay = 0 }, step, lr);
        model.ZeroGrad();
    }

    [Fact]
    public void Likelihood_reward_is_the_head_plus_the_mean_log_probability_of_the_answer_tokens()
    {
        var tok = TinyWorld.Tokenizer;
        var sft = new Transformer(TinyWorld.Config(), seed: 7);
        var plain = new RewardScorer(new Transformer(RewardScorer.FromSft(sft.Parameters)), tok);
        var withLikelihood = new RewardScorer(new Transformer(RewardScorer.FromSft(sft.Parameters, likelihood: true)), tok);
        var rng = new Random(3);
        foreach (var scorer in new[] { plain, withLikelihood })
        {
            var w = scorer.Model.Parameters[scorer.Model.Layout.Score!];
            for (int j = 0; j < w.Length; j++) w[j] = (float)(rng.NextDouble() - 0.5);
            rng = new Random(3); // the same head for both
        }
        var conversation = TinyWorld.Ask("what is 2+2?");
        string[] answers = ["four", "yes no yes", "Paris"];
        var head = plain.Score(answers.Select(a => plain.Render(conversation, a)).ToList());
        var rewards = withLikelihood.Score(answers.Select(a => withLikelihood.Render(conversation, a)).ToList());
        for (int i = 0; i < answers.Length; i++)
        {
            var seq = AnswerSequences.Render(tok, conversation, answers[i], sft.Config.ContextLength);
            float mean = AnswerSequences.LogProbSums(sft, [seq], tok.StopTokenIds[0])[0] / seq.AnswerMask.Count(m => m);
            Assert.True(mean < 0);
            Assert.Equal(head[i] + mean, rewards[i], 4);
        }
        // The flag travels with the reward model's config.
        Assert.True(withLikelihood.Model.Config.ScoreLikelihood);
        Assert.False(plain.Model.Config.ScoreLikelihood);
    }

    [Fact]
    public void Reward_model_learns_a_separable_ranking_and_ranks_held_out_prompts()
    {
        var tok = TinyWorld.Tokenizer;
        var sft = new Transformer(TinyWorld.Config(), seed: 5);
        var rm = new Transformer(RewardScorer.FromSft(sft.Parameters));
        var scorer = new RewardScorer(rm, tok);
        // A fixed preference over four distinct answers, the same for every prompt. Held-out prompts are every
        // fifth question number, so they come from the training distribution (digits in seen positions).
        string[] answers = ["Paris", "yes", "no", "question"];
        List<int[]> Group(int i) => answers.Select(a => scorer.Render(TinyWorld.Ask($"question {i}"), a)).ToList();
        var trainIds = Enumerable.Range(0, 50).Where(i => i % 5 != 0).ToArray();

        var m = new ParameterBuffer(rm.Layout);
        var v = new ParameterBuffer(rm.Layout);
        for (int step = 1; step <= 120; step++)
        {
            scorer.RankingStep(Group(trainIds[step % trainIds.Length]), weight: 1f);
            AdamStep(rm, m, v, step, 5e-3f);
        }
        int correct = 0, pairs = 0;
        for (int i = 0; i < 50; i += 5) // prompts never trained on
        {
            var rewards = scorer.Score(Group(i));
            for (int a = 0; a < 4; a++) for (int b = a + 1; b < 4; b++) { pairs++; if (rewards[a] > rewards[b]) correct++; }
        }
        Assert.True(correct >= 0.9 * pairs, $"held-out pairwise accuracy {correct}/{pairs}; rewards {string.Join(", ", scorer.Score(Group(5)))}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the reward also holds the answer's mean log-probability: gradients flow through the LM head too
    public void Reward_gradient_matches_finite_differences(bool likelihood)
    {
        var tok = TinyWorld.Tokenizer;
        var rm = new Transformer(RewardScorer.FromSft(new Transformer(TinyWorld.Config(), seed: 6).Parameters, likelihood));
        var rng = new Random(1);
        var score = rm.Parameters[rm.Layout.Score!];
        for (int j = 0; j < score.Length; j++) score[j] = (float)(rng.NextDouble() - 0.5);
        var scorer = new RewardScorer(rm, tok);
        var group = new[] { "yes", "no", "yes no" }.Select(a => scorer.Render(TinyWorld.Ask("q"), a)).ToList();

        rm.ZeroGrad();
        scorer.RankingStep(group, 1f);
        var analyticGrads = rm.Grads.Data.ToArray(); // later loss evaluations run backward too and would add to Grads
        float Loss() => scorer.RankingStep(group, 1f).Loss; // forward+backward; only the loss is used
        foreach (var name in new[] { "score.weight", "layers.1.mlp.down.weight", "embed_tokens.weight" })
        {
            var slot = rm.Layout[name];
            var p = rm.Parameters[slot];
            int index = rng.Next(p.Length);
            // Pick the parameter with the largest gradient in the first 64 to keep the check meaningful.
            var g = analyticGrads.AsSpan((int)slot.Offset, (int)slot.Length);
            for (int k = 0; k < Math.Min(64, g.Length); k++) if (Math.Abs(g[k]) > Math.Abs(g[index])) index = k;
            float analytic = g[index];
            float saved = p[index];
            const float h = 1e-2f;
            p[index] = saved + h; float plus = Loss();
            p[index] = saved - h; float minus = Loss();
            p[index] = saved;
            float numeric = (plus - minus) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic) <= 0.05f * Math.Abs(analytic) + 1e-4f, $"{name}[{index}]: numeric {numeric} vs analytic {analytic}");
        }
    }

    [Fact]
    public void Dpo_gradient_matches_finite_differences_and_training_raises_the_margin()
    {
        var tok = TinyWorld.Tokenizer;
        var policy = new Transformer(TinyWorld.Config(), seed: 7);
        var reference = new Transformer(TinyWorld.Config(), seed: 7);
        int pad = tok.EndOfTextId;
        var chosen = AnswerSequences.Render(tok, TinyWorld.Ask("The capital of France?"), "Paris", 96);
        var rejected = AnswerSequences.Render(tok, TinyWorld.Ask("The capital of France?"), "no", 96);
        var refSums = AnswerSequences.LogProbSums(reference, [chosen, rejected], pad);

        policy.ZeroGrad();
        var first = DpoStep.Run(policy, chosen, rejected, refSums[0], refSums[1], beta: 0.5f, weight: 1f, pad);
        Assert.Equal(Math.Log(2), first.Loss, 4); // policy == reference

        // Directional derivative check: loss(θ + h·g) − loss(θ − h·g) ≈ 2h·|g|².
        var grads = policy.Grads.Data.ToArray();
        double gg = grads.Sum(x => (double)x * x);
        float LossAt(float h)
        {
            var saved = policy.Parameters.Data.ToArray();
            for (int i = 0; i < saved.Length; i++) policy.Parameters.Data[i] += h * grads[i];
            var sums = AnswerSequences.LogProbSums(policy, [chosen, rejected], pad);
            saved.CopyTo(policy.Parameters.Data, 0);
            return ChatForge.Training.Alignment.DpoLoss.ForwardBackward(sums[0], sums[1], refSums[0], refSums[1], 0.5f).Loss;
        }
        float step = (float)(1e-2 / Math.Sqrt(gg));
        double numeric = (LossAt(step) - LossAt(-step)) / (2 * step);
        Assert.True(Math.Abs(numeric - gg) <= 0.05 * gg, $"directional derivative {numeric} vs |g|² {gg}");

        var m = new ParameterBuffer(policy.Layout);
        var v = new ParameterBuffer(policy.Layout);
        policy.ZeroGrad();
        float lastLoss = 0;
        for (int s = 1; s <= 15; s++)
        {
            var r = DpoStep.Run(policy, chosen, rejected, refSums[0], refSums[1], 0.5f, 1f, pad);
            lastLoss = r.Loss;
            AdamStep(policy, m, v, s, 1e-2f);
        }
        Assert.True(lastLoss < 0.3f, $"DPO loss after training {lastLoss}");
    }
}
