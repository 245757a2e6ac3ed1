using ChatForge.Training.Alignment;

namespace ChatForge.Training.Tests;

public class AlignmentMathTests
{
    [Fact]
    public void Reward_model_loss_matches_hand_computed_pairs()
    {
        // K = 3, rewards best first: pairs (0,1) m=1, (0,2) m=3, (1,2) m=2.
        float[] r = [2f, 1f, -1f];
        var d = new float[3];
        var (loss, accuracy) = RewardModelLoss.ForwardBackward(r, d);
        double expected = (Math.Log(1 + Math.Exp(-1)) + Math.Log(1 + Math.Exp(-3)) + Math.Log(1 + Math.Exp(-2))) / 3;
        Assert.Equal(expected, loss, 5);
        Assert.Equal(1f, accuracy);
        // d/dr0 = −(σ(−1) + σ(−3))/3; d/dr2 = +(σ(−3) + σ(−2))/3.
        static double S(double x) => 1 / (1 + Math.Exp(-x));
        Assert.Equal(-(S(-1) + S(-3)) / 3, d[0], 5);
        Assert.Equal((S(-1) - S(-2)) / 3, d[1], 5);
        Assert.Equal((S(-3) + S(-2)) / 3, d[2], 5);
        Assert.Equal(0, d.Sum(), 5);
    }

    [Fact]
    public void Reward_model_loss_counts_misordered_pairs_and_stays_finite_for_huge_margins()
    {
        var d = new float[2];
        var (loss, accuracy) = RewardModelLoss.ForwardBackward([-500f, 500f], d);
        Assert.Equal(1000f, loss, 2);
        Assert.Equal(0f, accuracy);
        Assert.True(float.IsFinite(d[0]) && float.IsFinite(d[1]));
        Assert.Throws<ArgumentException>(() => RewardModelLoss.ForwardBackward([1f], new float[1]));
    }

    [Fact]
    public void Dpo_loss_matches_hand_computed_value_and_gradient()
    {
        // β = 0.1; chosen gains 2 nats over the reference, rejected loses 1: margin = 0.1·(2 − (−1)) = 0.3.
        var result = DpoLoss.ForwardBackward(policyChosen: -10f, policyRejected: -13f, referenceChosen: -12f, referenceRejected: -12f, beta: 0.1f);
        Assert.Equal(Math.Log(1 + Math.Exp(-0.3)), result.Loss, 5);
        double sig = 1 / (1 + Math.Exp(0.3));
        Assert.Equal(-0.1 * sig, result.DChosen, 5);
        Assert.Equal(0.1 * sig, result.DRejected, 5);
        Assert.Equal(0.2f, result.ChosenReward, 5);
        Assert.Equal(-0.1f, result.RejectedReward, 5);
        Assert.True(result.Correct);
        // At the reference the loss is log 2.
        Assert.Equal(Math.Log(2), DpoLoss.ForwardBackward(-5, -6, -5, -6, 0.5f).Loss, 5);
    }

    [Fact]
    public void Gae_matches_a_hand_computed_example()
    {
        float[] rewards = [0f, 0f, 1f], values = [0.5f, 0.4f, 0.8f];
        var advantages = new float[3];
        var returns = new float[3];
        Gae.Compute(rewards, values, gamma: 1f, lambda: 0.95f, advantages, returns);
        // δ2 = 1 − 0.8 = 0.2; δ1 = 0 + 0.8 − 0.4 = 0.4; δ0 = 0 + 0.4 − 0.5 = −0.1
        // A2 = 0.2; A1 = 0.4 + 0.95·0.2 = 0.59; A0 = −0.1 + 0.95·0.59 = 0.4605
        Assert.Equal(0.2f, advantages[2], 5);
        Assert.Equal(0.59f, advantages[1], 5);
        Assert.Equal(0.4605f, advantages[0], 5);
        Assert.Equal(new[] { 0.9605f, 0.99f, 1.0f }, returns.Select(r => MathF.Round(r, 4)));
        // With λ = 1 and γ = 1 the returns are the reward-to-go.
        Gae.Compute(rewards, values, 1f, 1f, advantages, returns);
        Assert.All(returns, r => Assert.Equal(1f, r, 5));
    }

    [Fact]
    public void Kl_estimators_are_zero_at_the_reference_and_k3_is_never_negative()
    {
        Assert.Equal(0f, KlEstimators.K1(-2f, -2f));
        Assert.Equal(0f, KlEstimators.K3(-2f, -2f), 6);
        Assert.Equal(0.5f, KlEstimators.K1(-1.5f, -2f));
        var rng = new Random(1);
        for (int i = 0; i < 1000; i++)
            Assert.True(KlEstimators.K3((float)-rng.NextDouble() * 5, (float)-rng.NextDouble() * 5) >= 0);

        // Both estimate KL(p‖q) from samples of p: check against the exact value for two categoricals.
        double[] p = [0.7, 0.2, 0.1], q = [0.4, 0.4, 0.2];
        double exact = p.Select((pi, i) => pi * Math.Log(pi / q[i])).Sum();
        double k1 = 0, k3 = 0;
        int samples = 200_000;
        for (int s = 0; s < samples; s++)
        {
            double u = rng.NextDouble();
            int i = u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2;
            k1 += KlEstimators.K1((float)Math.Log(p[i]), (float)Math.Log(q[i]));
            k3 += KlEstimators.K3((float)Math.Log(p[i]), (float)Math.Log(q[i]));
        }
        Assert.Equal(exact, k1 / samples, 2);
        Assert.Equal(exact, k3 / samples, 2);
    }

    [Fact]
    public void Ppo_policy_gradient_matches_finite_differences_and_clips()
    {
        float[] old = [-1f, -2f, -0.5f, -3f];
        float[] advantages = [1f, -1f, 0.5f, -2f];
        float[] logProbs = [-0.95f, -2.5f, -0.1f, -3.05f]; // token 1 and 2 move outside the 0.2 clip range
        var d = new float[4];
        var stats = PpoLoss.Policy(logProbs, old, advantages, 0.2f, d);
        Assert.Equal(0.5f, stats.ClipFraction);

        for (int i = 0; i < 4; i++)
        {
            const float h = 1e-3f;
            var plus = (float[])logProbs.Clone(); plus[i] += h;
            var minus = (float[])logProbs.Clone(); minus[i] -= h;
            var scratch = new float[4];
            double numeric = (PpoLoss.Policy(plus, old, advantages, 0.2f, scratch).Loss - PpoLoss.Policy(minus, old, advantages, 0.2f, scratch).Loss) / (2 * h);
            Assert.Equal(numeric, d[i], 3);
        }
        // Token 2 has ratio e^0.4 > 1.2 with a positive advantage: clipped, so no gradient pushes it further.
        Assert.Equal(0f, d[2]);
        // Token 1 has ratio e^−0.5 < 0.8 with a negative advantage: clipped too.
        Assert.Equal(0f, d[1]);
    }

    [Fact]
    public void Ppo_value_loss_clips_and_its_gradient_matches_finite_differences()
    {
        float[] oldValues = [0f, 1f, 2f], returns = [1f, 0f, 2.5f], values = [0.1f, 1.5f, 2.05f];
        var d = new float[3];
        float loss = PpoLoss.Value(values, oldValues, returns, 0.2f, d);
        // Token 0: plain 0.81, clipped same (inside range). Token 1: plain 2.25, clipped (1.2)²=1.44 → max 2.25.
        // Token 2: plain 0.2025, clipped same → 0.2025. Loss = ½·(0.81 + 2.25 + 0.2025)/3.
        Assert.Equal(0.5 * (0.81 + 2.25 + 0.2025) / 3, loss, 5);
        for (int i = 0; i < 3; i++)
        {
            const float h = 1e-3f;
            var plus = (float[])values.Clone(); plus[i] += h;
            var minus = (float[])values.Clone(); minus[i] -= h;
            var scratch = new float[3];
            double numeric = (PpoLoss.Value(plus, oldValues, returns, 0.2f, scratch) - PpoLoss.Value(minus, oldValues, returns, 0.2f, scratch)) / (2 * h);
            Assert.Equal(numeric, d[i], 3);
        }
        // A value pushed past the clip range towards the return is held back by the clipped branch.
        float[] past = [0.5f];
        var g = new float[1];
        // plain (0.5 − 1)² = 0.25, clipped (0.2 − 1)² = 0.64: the max is the clipped one, which no longer depends on v.
        Assert.Equal(0.32, PpoLoss.Value(past, [0f], [1f], 0.2f, g), 5);
        Assert.Equal(0f, g[0]);
    }

    [Fact]
    public void Whitening_gives_zero_mean_unit_variance_and_the_kl_controller_moves_beta_towards_the_target()
    {
        float[] x = [1f, 2f, 3f, 4f, 10f];
        Whitening.Whiten(x);
        Assert.Equal(0, x.Average(), 5);
        double variance = x.Select(v => (double)v * v).Sum() / (x.Length - 1);
        Assert.Equal(1, variance, 4);

        var controller = new AdaptiveKlController(initialBeta: 0.1f, targetKl: 6f, horizon: 10_000);
        controller.Update(measuredKl: 12f, samples: 1000); // error clipped to +0.2 → β·1.02
        Assert.Equal(0.102f, controller.Beta, 5);
        controller.Update(measuredKl: 3f, samples: 1000);  // error −0.5 clipped to −0.2 → β·0.98
        Assert.Equal(0.102f * 0.98f, controller.Beta, 5);
    }
}
