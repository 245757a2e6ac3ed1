namespace ChatForge.Engine.Inference;

public sealed record SamplingOptions
{
    /// <summary>0 means greedy (argmax).</summary>
    public float Temperature { get; init; } = 1f;
    /// <summary>0 means no top-k cut.</summary>
    public int TopK { get; init; }
    /// <summary>1 means no nucleus cut.</summary>
    public float TopP { get; init; } = 1f;
    /// <summary>Null draws a seed; a fixed seed makes sampling repeatable.</summary>
    public ulong? Seed { get; init; }

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0f };
}

public sealed record GenerationRequest
{
    public required IReadOnlyList<int> PromptTokens { get; init; }
    public int MaxNewTokens { get; init; } = 256;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Token ids that end the answer (e.g. &lt;|im_end|&gt;, &lt;|endoftext|&gt;); they are not yielded.</summary>
    public IReadOnlyCollection<int> StopTokens { get; init; } = Array.Empty<int>();
}

public enum FinishReason { Stop, Length, ContextFull, Cancelled }

/// <summary>
/// One step of a streamed generation. Every stream ends with exactly one step whose Finish is set and
/// whose TokenId is -1; all earlier steps carry a generated token and a null Finish.
/// </summary>
public readonly record struct GenerationStep(int TokenId, FinishReason? Finish)
{
    public static GenerationStep End(FinishReason reason) => new(-1, reason);
}

/// <summary>
/// Generates tokens for a prompt. Implementations may decode many concurrent requests together
/// (continuous batching); cancelling the token ends that request's stream with FinishReason.Cancelled
/// and frees its slot.
/// </summary>
public interface ITokenGenerator
{
    int VocabSize { get; }
    int ContextLength { get; }
    IAsyncEnumerable<GenerationStep> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken = default);
}
