namespace ChatForge.Engine.Training;

/// <summary>What the pretrainer reports while it runs; the CLI renders these (progress bar or plain lines).</summary>
public abstract record PretrainEvent(long Step);

/// <summary>One optimizer step done. Throughput is measured over this step alone; Eta uses a running average.</summary>
public sealed record StepCompleted(long Step, long TotalSteps, float Loss, float LearningRate, float GradNorm,
    double TokensPerSecond, double Mfu, TimeSpan Elapsed, TimeSpan Eta) : PretrainEvent(Step);

/// <summary>Validation loss (nats per token) and, when the tokens-per-byte ratio is known, bits per byte.</summary>
public sealed record Evaluated(long Step, float ValidationLoss, double? BitsPerByte) : PretrainEvent(Step);

public sealed record CheckpointSaved(long Step, string Path) : PretrainEvent(Step);

/// <summary>The end of <see cref="Pretrainer.Run"/>: also written to &lt;run&gt;/summary.json.</summary>
public sealed record PretrainSummary
{
    /// <summary>"completed" or "interrupted" (cancelled; a checkpoint was saved).</summary>
    public required string Status { get; init; }
    public required long StartStep { get; init; }
    public required long Step { get; init; }
    public required long TotalSteps { get; init; }
    public required long Parameters { get; init; }
    public required long TokensThisRun { get; init; }
    public required double ElapsedSeconds { get; init; }
    public required double TokensPerSecond { get; init; }
    public required double Mfu { get; init; }
    public float? FinalTrainLoss { get; init; }
    public float? FinalValidationLoss { get; init; }
    public double? BitsPerByte { get; init; }
    public string? Checkpoint { get; init; }
    /// <summary>Training loss of every step run in this call, in order (step StartStep+1 first).</summary>
    public required float[] Losses { get; init; }
}

/// <summary>Training stopped because the loss or the gradient norm became NaN or infinite.</summary>
public sealed class TrainingDivergedException(long step, string? lastCheckpoint, string message) : Exception(message)
{
    public long Step { get; } = step;
    public string? LastCheckpoint { get; } = lastCheckpoint;
}
