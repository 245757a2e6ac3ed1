namespace ChatForge.Training.Ppo;

public sealed record PpoOptions
{
    /// <summary>Prompts sampled per iteration; each gets one answer.</summary>
    public int PromptsPerIteration { get; init; } = 16;
    public int MaxNewTokens { get; init; } = 48;
    /// <summary>Sampling temperature of the policy: rollouts, log-probs, ratios and the KL penalty all use softmax(logits / T).</summary>
    public float Temperature { get; init; } = 1f;
    /// <summary>Passes of PPO updates over each rollout batch.</summary>
    public int Epochs { get; init; } = 2;
    /// <summary>Answers per gradient step.</summary>
    public int MiniBatch { get; init; } = 4;
    /// <summary>Per-token KL penalty coefficient β (InstructGPT: reward − β·log(π/π_ref)).</summary>
    public float KlBeta { get; init; } = 0.05f;
    /// <summary>When set, β adapts towards this KL per answer (Ziegler et al.).</summary>
    public float? TargetKl { get; init; }
    /// <summary>
    /// Answers over which the adaptive β can move by the clipped error (±20%): β ← β·(1 + error·answers/horizon).
    /// Ziegler et al.'s 10,000 suits runs of tens of thousands of episodes; a run of 120 × 16 answers needs a few hundred
    /// for β to move at all (at 10,000 it can change by 0.03% per iteration).
    /// </summary>
    public int KlHorizon { get; init; } = 10_000;
    public float Gamma { get; init; } = 1f;
    public float Lambda { get; init; } = 0.95f;
    public float ClipEpsilon { get; init; } = 0.2f;
    public float ValueClipEpsilon { get; init; } = 0.2f;
    public float ActorLearningRate { get; init; } = 1e-5f;
    public float CriticLearningRate { get; init; } = 5e-5f;
    public float GradClip { get; init; } = 1f;
    /// <summary>Normalise the batch's reward-model scores to zero mean, unit variance before adding the KL penalty.</summary>
    public bool WhitenRewards { get; init; } = true;
    public ulong Seed { get; init; } = 1;

    public void Validate()
    {
        if (PromptsPerIteration < 1 || MaxNewTokens < 1 || Epochs < 1 || MiniBatch < 1)
            throw new ArgumentException("PPO: prompts per iteration, max new tokens, epochs and mini-batch must all be at least 1.");
        if (!(ClipEpsilon > 0 && ClipEpsilon < 1)) throw new ArgumentException($"PPO: clip epsilon must be in (0, 1), got {ClipEpsilon}.");
        if (!(Temperature > 0 && Temperature <= 2)) throw new ArgumentException($"PPO: temperature must be in (0, 2], got {Temperature}.");
        if (KlHorizon < 1) throw new ArgumentException($"PPO: KL horizon must be at least 1 answer, got {KlHorizon}.");
        if (KlBeta < 0) throw new ArgumentException($"PPO: KL beta must be >= 0, got {KlBeta}.");
        if (Gamma is < 0 or > 1 || Lambda is < 0 or > 1) throw new ArgumentException("PPO: gamma and lambda must be in [0, 1].");
    }
}

/// <summary>What one PPO iteration did, logged per iteration.</summary>
public sealed record PpoIterationStats
{
    public int Iteration { get; init; }
    /// <summary>Mean reward-model score (before whitening and before the KL penalty).</summary>
    public float MeanScore { get; init; }
    /// <summary>Mean over answers of Σ_t log(π/π_ref): the KL spent per answer.</summary>
    public float MeanKl { get; init; }
    /// <summary>Mean policy entropy per answer token (nats), at rollout time.</summary>
    public float Entropy { get; init; }
    public float ClipFraction { get; init; }
    public float PolicyLoss { get; init; }
    public float ValueLoss { get; init; }
    public float MeanAnswerLength { get; init; }
    public float Beta { get; init; }
}
