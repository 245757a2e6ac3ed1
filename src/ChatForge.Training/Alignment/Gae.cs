namespace ChatForge.Training.Alignment;

/// <summary>
/// Generalised advantage estimation over one answer (Schulman et al. 2016). The answer is an episode that
/// ends after its last token, so the value after it is 0:
///   δ_t = r_t + γ·V_{t+1} − V_t,   A_t = δ_t + γλ·A_{t+1},   returns R_t = A_t + V_t (the value targets).
/// </summary>
public static class Gae
{
    public static void Compute(ReadOnlySpan<float> rewards, ReadOnlySpan<float> values, float gamma, float lambda,
        Span<float> advantages, Span<float> returns)
    {
        int t = rewards.Length;
        if (values.Length != t || advantages.Length != t || returns.Length != t)
            throw new ArgumentException($"GAE needs equal lengths: rewards {t}, values {values.Length}, advantages {advantages.Length}, returns {returns.Length}.");
        float next = 0, nextValue = 0;
        for (int i = t - 1; i >= 0; i--)
        {
            float delta = rewards[i] + gamma * nextValue - values[i];
            next = delta + gamma * lambda * next;
            advantages[i] = next;
            returns[i] = next + values[i];
            nextValue = values[i];
        }
    }
}

/// <summary>Per-token estimators of KL(π‖π_ref) from samples of π (Schulman, "Approximating KL divergence").</summary>
public static class KlEstimators
{
    /// <summary>k1 = log π − log π_ref: unbiased, can be negative per token. InstructGPT's per-token penalty.</summary>
    public static float K1(float logProb, float referenceLogProb) => logProb - referenceLogProb;

    /// <summary>k3 = (ρ − 1) − log ρ with ρ = π_ref/π: unbiased and always ≥ 0, lower variance for reporting.</summary>
    public static float K3(float logProb, float referenceLogProb)
    {
        double logRatio = (double)referenceLogProb - logProb;
        return (float)(Math.Exp(logRatio) - 1 - logRatio);
    }
}

/// <summary>Normalises values to zero mean and unit variance (reward and advantage whitening).</summary>
public static class Whitening
{
    public static void Whiten(Span<float> values, bool shiftMean = true)
    {
        if (values.Length < 2) return;
        double mean = 0;
        foreach (float v in values) mean += v;
        mean /= values.Length;
        double variance = 0;
        foreach (float v in values) variance += (v - mean) * (v - mean);
        variance /= values.Length - 1;
        double scale = 1 / Math.Sqrt(variance + 1e-8);
        for (int i = 0; i < values.Length; i++)
            values[i] = (float)(shiftMean ? (values[i] - mean) * scale : (values[i] - mean) * scale + mean);
    }
}

/// <summary>
/// Adaptive KL coefficient (Ziegler et al. 2019): β grows when the measured KL exceeds the target and
/// shrinks when below, by at most ±20% of the error per horizon.
/// </summary>
public sealed class AdaptiveKlController(float initialBeta, float targetKl, int horizon)
{
    public float Beta { get; private set; } = initialBeta;

    /// <summary>Continues from a saved β (resume).</summary>
    public void Restore(float beta) => Beta = beta;

    public void Update(float measuredKl, int samples)
    {
        float error = Math.Clamp(measuredKl / targetKl - 1, -0.2f, 0.2f);
        Beta *= 1 + error * samples / horizon;
    }
}
