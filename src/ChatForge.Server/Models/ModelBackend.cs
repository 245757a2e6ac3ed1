using ChatForge.Tokenizer;

namespace ChatForge.Server.Models;

/// <summary>What to generate: the conversation (system prompt first), and for Continue the unfinished answer to extend.</summary>
public sealed record BackendRequest
{
    public required IReadOnlyList<ChatMessage> Messages { get; init; }
    /// <summary>An assistant answer to continue: rendered as an open assistant turn, new text is appended to it.</summary>
    public string? ContinueFrom { get; init; }
    public int MaxTokens { get; init; } = 200;
    public float Temperature { get; init; } = 0.7f;
    public float TopP { get; init; } = 1f;
    public IReadOnlyList<string> Stop { get; init; } = Array.Empty<string>();
    public ulong? Seed { get; init; }
}

public static class Finish
{
    public const string Stop = "stop";
    public const string Length = "length";
    public const string Cancelled = "cancelled";
}

/// <summary>One piece of a streamed answer. The last one has Finish set and the token counts.</summary>
public sealed record BackendDelta(string Text, string? Finish = null, int PromptTokens = 0, int CompletionTokens = 0);

/// <summary>
/// A model the server can answer with: the local engine, or an OpenAI-compatible endpoint (vLLM,
/// llama.cpp server, Ollama, another ChatForge). The server talks to it through <see cref="BackendChatClient"/>.
/// </summary>
public abstract class ModelBackend : IDisposable
{
    /// <summary>Id in /v1/models and the UI.</summary>
    public abstract string Name { get; }
    /// <summary>Stored with every answer and its feedback, so statistics can compare model versions.</summary>
    public abstract string Version { get; }
    /// <summary>"local" or "openai-compatible".</summary>
    public abstract string Kind { get; }
    public abstract int ContextLength { get; }
    public abstract IAsyncEnumerable<BackendDelta> StreamAsync(BackendRequest request, CancellationToken cancellationToken);
    public virtual void Dispose() { }
}

/// <summary>The backend cannot serve the request (context overflow, endpoint failure); Status is the HTTP status to answer.</summary>
public sealed class ModelBackendException(int status, string message, Exception? inner = null) : Exception(message, inner)
{
    public int Status { get; } = status;
}
