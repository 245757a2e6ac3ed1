namespace ChatForge.Training.Alignment;

/// <summary>
/// PPO's clipped objectives per answer token (Schulman et al. 2017, as used in InstructGPT).
/// Policy: ρ = exp(logπ − logπ_old); loss = −min(ρ·A, clip(ρ, 1−ε, 1+ε)·A).
/// Value: v_clip = v_old + clip(v − v_old, −ε_v, ε_v); loss = ½·max((v − R)², (v_clip − R)²).
/// Gradients are returned per token so the model's heads can back-propagate them.
/// </summary>
public static class PpoLoss
{
    public readonly record struct PolicyStats(float Loss, float ClipFraction, float ApproxKl);

    /// <param name="dLogProbs">Written: d loss / d logπ per token, already divided by the token count (mean loss).</param>
    public static PolicyStats Policy(ReadOnlySpan<float> logProbs, ReadOnlySpan<float> oldLogProbs, ReadOnlySpan<float> advantages,
        float clipEpsilon, Span<float> dLogProbs)
    {
        int n = logProbs.Length;
        if (oldLogProbs.Length != n || advantages.Length != n || dLogProbs.Length != n)
            throw new ArgumentException($"PPO policy loss needs equal lengths: logProbs {n}, old {oldLogProbs.Length}, advantages {advantages.Length}, dLogProbs {dLogProbs.Length}.");
        if (n == 0) return new PolicyStats(0, 0, 0);
        double loss = 0, kl = 0;
        int clipped = 0;
        for (int i = 0; i < n; i++)
        {
            double logRatio = (double)logProbs[i] - oldLogProbs[i];
            double ratio = Math.Exp(logRatio), a = advantages[i];
            double unclippedObjective = ratio * a;
            double clippedObjective = Math.Clamp(ratio, 1 - clipEpsilon, 1 + clipEpsilon) * a;
            // The min picks the clipped branch only when it is strictly smaller; there the gradient is zero.
            bool useClipped = clippedObjective < unclippedObjective;
            loss -= useClipped ? clippedObjective : unclippedObjective;
            dLogProbs[i] = useClipped ? 0f : (float)(-a * ratio / n);
            if (Math.Abs(ratio - 1) > clipEpsilon) clipped++;
            kl += (ratio - 1) - logRatio;
        }
        return new PolicyStats((float)(loss / n), (float)clipped / n, (float)(kl / n));
    }

    /// <param name="dValues">Written: d loss / d v per token, divided by the token count.</param>
    public static float Value(ReadOnlySpan<float> values, ReadOnlySpan<float> oldValues, ReadOnlySpan<float> returns,
        float clipEpsilon, Span<float> dValues)
    {
        int n = values.Length;
        if (oldValues.Length != n || returns.Length != n || dValues.Length != n)
            throw new ArgumentException($"PPO value loss needs equal lengths: values {n}, old {oldValues.Length}, returns {returns.Length}, dValues {dValues.Length}.");
        if (n == 0) return 0;
        double loss = 0;
        for (int i = 0; i < n; i++)
        {
            double v = values[i], vOld = oldValues[i], r = returns[i];
            double vClipped = vOld + Math.Clamp(v - vOld, -clipEpsilon, clipEpsilon);
            double plain = (v - r) * (v - r), clippedLoss = (vClipped - r) * (vClipped - r);
            bool useClipped = clippedLoss > plain;
            loss += 0.5 * Math.Max(plain, clippedLoss);
            // The clipped branch wins only when v − v_old is outside the clip range, where v_clip no longer depends on v.
            dValues[i] = useClipped ? 0f : (float)((v - r) / n);
        }
        return (float)(loss / n);
    }
}
