using System.Text.Json;
using System.Text.Json.Nodes;

namespace ChatForge.Training.Stages;

/// <summary>Optimisation settings shared by the fine-tuning stages (SFT, reward model, DPO). Saved in every checkpoint.</summary>
public sealed record StageOptions
{
    public int Steps { get; init; } = 500;
    /// <summary>Items per step: packed rows for SFT, ranked groups for the reward model, pairs for DPO.</summary>
    public int Batch { get; init; } = 8;
    /// <summary>Row length for SFT packing.</summary>
    public int SequenceLength { get; init; } = 256;
    public float LearningRate { get; init; } = 1e-4f;
    public int WarmupSteps { get; init; } = 20;
    public float MinLearningRateRatio { get; init; } = 0.1f;
    public float WeightDecay { get; init; } = 0.0f;
    public float GradClip { get; init; } = 1f;
    public int EvalEvery { get; init; } = 50;
    public int CheckpointEvery { get; init; } = 100;
    public int KeepCheckpoints { get; init; } = 2;
    public ulong Seed { get; init; } = 1;
    /// <summary>DPO's β.</summary>
    public float Beta { get; init; } = 0.1f;
    /// <summary>SFT: the fraction of each step's rows that are windows of the pretraining token shards (loss on every token).</summary>
    public float PretrainMix { get; init; }

    public void Validate()
    {
        void Positive(long v, string name) { if (v <= 0) throw new ArgumentException($"Option {name} must be positive, got {v}."); }
        Positive(Steps, "--steps"); Positive(Batch, "--batch"); Positive(SequenceLength, "--seq");
        Positive(EvalEvery, "--eval-every"); Positive(CheckpointEvery, "--ckpt-every"); Positive(KeepCheckpoints, "keep checkpoints");
        new ChatForge.Engine.Training.LearningRateSchedule(LearningRate, WarmupSteps, Steps, MinLearningRateRatio).Validate();
        if (GradClip < 0) throw new ArgumentException($"Gradient clip must be >= 0, got {GradClip}.");
        if (!(Beta > 0)) throw new ArgumentException($"Beta must be positive, got {Beta}.");
        if (!(PretrainMix >= 0 && PretrainMix < 1)) throw new ArgumentException($"--pretrain-mix must be in [0, 1), got {PretrainMix}.");
    }

    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    public JsonObject ToJson() => JsonSerializer.SerializeToNode(this, Json)!.AsObject();
    public static StageOptions FromJson(JsonNode node, string source) =>
        node.Deserialize<StageOptions>(Json) ?? throw new InvalidDataException($"{source}: missing stage options.");
}

/// <summary>What a stage reports while it runs (rendered by the CLI) and the final summary (printed as JSON).</summary>
public abstract record StageEvent(string Stage, long Step);
public sealed record StageStep(string Stage, long Step, long TotalSteps, float Loss, float LearningRate, float GradNorm, double ItemsPerSecond, TimeSpan Eta, string Unit = "items") : StageEvent(Stage, Step);
public sealed record StageEvaluated(string Stage, long Step, IReadOnlyDictionary<string, double> Metrics) : StageEvent(Stage, Step);
public sealed record StageCheckpoint(string Stage, long Step, string Path) : StageEvent(Stage, Step);

public sealed record StageSummary
{
    public required string Stage { get; init; }
    public required string Status { get; init; }
    public required long StartStep { get; init; }
    public required long Step { get; init; }
    public required double ElapsedSeconds { get; init; }
    public float? FinalLoss { get; init; }
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
    public string? Checkpoint { get; init; }
    public required float[] Losses { get; init; }
    public List<(long Step, IReadOnlyDictionary<string, double> Metrics)> Evaluations { get; init; } = [];
}
