namespace ChatForge.Engine.Training;

/// <summary>
/// Linear warmup from 0 to the peak rate, then cosine decay to <c>MinRatio × peak</c> at the last step
/// (the nanoGPT/llm.c schedule). Steps are counted from 0.
/// </summary>
public sealed record LearningRateSchedule(float PeakRate, int WarmupSteps, int TotalSteps, float MinRatio = 0.1f)
{
    public float At(long step)
    {
        // Step 0 gets a small non-zero rate: (step + 1) / warmup, so the first update is never wasted.
        if (step < WarmupSteps) return PeakRate * (step + 1) / WarmupSteps;
        float min = PeakRate * MinRatio;
        int decaySteps = TotalSteps - WarmupSteps;
        if (decaySteps <= 0 || step >= TotalSteps) return min;
        double progress = (double)(step - WarmupSteps) / decaySteps;
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * progress));
        return (float)(min + (PeakRate - min) * cosine);
    }

    public void Validate()
    {
        if (!(PeakRate > 0) || !float.IsFinite(PeakRate)) throw new ArgumentException($"Learning rate must be positive and finite, got {PeakRate}.");
        if (WarmupSteps < 0) throw new ArgumentException($"Warmup steps must be >= 0, got {WarmupSteps}.");
        if (TotalSteps <= 0) throw new ArgumentException($"Total steps must be positive, got {TotalSteps}.");
        if (MinRatio is < 0 or > 1) throw new ArgumentException($"Minimum learning-rate ratio must be in [0, 1], got {MinRatio}.");
    }
}
