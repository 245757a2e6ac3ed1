using System.Text.Json;
using System.Text.Json.Nodes;

namespace ChatForge.Engine.Training;

/// <summary>Settings of a pretraining run. Stored in every checkpoint so <c>--resume</c> continues the same run.</summary>
public sealed record PretrainOptions
{
    public int Steps { get; init; } = 1000;
    public int Batch { get; init; } = 8;
    public int SequenceLength { get; init; } = 256;
    /// <summary>Micro-batches per optimizer step: the effective batch is Batch × GradAccumulation sequences.</summary>
    public int GradAccumulation { get; init; } = 1;
    public float LearningRate { get; init; } = 6e-4f;
    public int WarmupSteps { get; init; } = 100;
    public float MinLearningRateRatio { get; init; } = 0.1f;
    public float WeightDecay { get; init; } = 0.1f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.95f;
    /// <summary>Global-norm gradient clipping threshold; 0 disables clipping (the norm is still measured).</summary>
    public float GradClip { get; init; } = 1f;
    public int EvalEvery { get; init; } = 100;
    /// <summary>Validation batches per evaluation ([Batch, T] each, the same windows every time).</summary>
    public int EvalBatches { get; init; } = 8;
    public int CheckpointEvery { get; init; } = 500;
    /// <summary>Step checkpoints kept on disk (oldest deleted first).</summary>
    public int KeepCheckpoints { get; init; } = 3;
    public ulong Seed { get; init; } = 1337;
    /// <summary>Tokens per byte of text, to turn validation loss into bits per byte; null = not reported.</summary>
    public double? TokensPerByte { get; init; }
    /// <summary>Peak GFLOPS of this machine for MFU; by default <see cref="EstimatedPeakGflops"/>.</summary>
    public double PeakGflops { get; init; } = EstimatedPeakGflops;

    /// <summary>
    /// FMA peak of the kernel threads at the widest SIMD path, assuming two FMA units and 3.8 GHz (AVX-512: 2 cores ≈ 490,
    /// the figure measured for the machines this was first sized on; AVX2: 2 cores ≈ 245). Pass the real figure for exact MFU.
    /// </summary>
    public static double EstimatedPeakGflops =>
        Math.Round(Kernels.KernelThreads.Count * 3.8 * 2 * 2 * Kernels.Simd.Best switch { Kernels.SimdLevel.Vector512 => 16, Kernels.SimdLevel.Vector256 => 8, _ => 1 });

    public void Validate()
    {
        void Positive(long v, string name) { if (v <= 0) throw new ArgumentException($"Pretrain option {name} must be positive, got {v}."); }
        Positive(Steps, "--steps"); Positive(Batch, "--batch"); Positive(SequenceLength, "--seq"); Positive(GradAccumulation, "--accum");
        Positive(EvalEvery, "--eval-every"); Positive(EvalBatches, "--eval-batches"); Positive(CheckpointEvery, "--ckpt-every");
        Positive(KeepCheckpoints, "keep checkpoints");
        new LearningRateSchedule(LearningRate, WarmupSteps, Steps, MinLearningRateRatio).Validate();
        if (WeightDecay < 0 || !float.IsFinite(WeightDecay)) throw new ArgumentException($"Weight decay must be >= 0, got {WeightDecay}.");
        if (GradClip < 0) throw new ArgumentException($"Gradient clip must be >= 0 (0 = off), got {GradClip}.");
        if (TokensPerByte is { } r && !(r > 0)) throw new ArgumentException($"Tokens per byte must be positive, got {r}.");
        if (!(PeakGflops > 0)) throw new ArgumentException($"Peak GFLOPS must be positive, got {PeakGflops}.");
    }

    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public JsonObject ToJson() => JsonSerializer.SerializeToNode(this, Json)!.AsObject();

    public static PretrainOptions FromJson(JsonNode node, string source) =>
        node.Deserialize<PretrainOptions>(Json) ?? throw new InvalidDataException($"{source}: missing pretrain options.");
}
