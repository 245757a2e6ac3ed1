namespace ChatForge.Training.Alignment;

/// <summary>
/// InstructGPT's ranking loss: for one prompt with K answers ranked best first, the mean over all C(K,2)
/// pairs (better i, worse j) of −log σ(r_i − r_j). Taking every pair of a prompt in one loss (rather than
/// shuffling pairs across batches) is what the paper found avoids overfitting to repeated answers.
/// </summary>
public static class RewardModelLoss
{
    /// <param name="rewards">Scalar rewards of the K answers, best first.</param>
    /// <param name="dRewards">Written: d loss / d r_k.</param>
    /// <returns>The loss and the fraction of pairs ordered correctly (r_i &gt; r_j).</returns>
    public static (float Loss, float PairAccuracy) ForwardBackward(ReadOnlySpan<float> rewards, Span<float> dRewards)
    {
        int k = rewards.Length;
        if (k < 2) throw new ArgumentException($"A ranking needs at least 2 answers, got {k}.", nameof(rewards));
        if (dRewards.Length != k) throw new ArgumentException($"dRewards has {dRewards.Length} entries for {k} rewards.", nameof(dRewards));
        dRewards.Clear();
        int pairs = k * (k - 1) / 2, correct = 0;
        double loss = 0;
        for (int i = 0; i < k; i++)
            for (int j = i + 1; j < k; j++)
            {
                double margin = rewards[i] - rewards[j];
                loss += Softplus(-margin);                 // −log σ(m) = log(1 + e^(−m))
                double g = -Sigmoid(-margin) / pairs;      // d/dm of −log σ(m) is −σ(−m)
                dRewards[i] += (float)g;
                dRewards[j] -= (float)g;
                if (margin > 0) correct++;
            }
        return ((float)(loss / pairs), (float)correct / pairs);
    }

    /// <summary>log(1 + e^x) without overflow for large |x|.</summary>
    public static double Softplus(double x) => x > 0 ? x + double.LogP1(Math.Exp(-x)) : double.LogP1(Math.Exp(x));

    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));
}
