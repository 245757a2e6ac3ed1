using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using AiMessage = Microsoft.Extensions.AI.ChatMessage;
using TokMessage = ChatForge.Tokenizer.ChatMessage;

namespace ChatForge.Server.Models;

/// <summary>
/// Microsoft.Extensions.AI's IChatClient over a served model (the local engine or an OpenAI-compatible
/// endpoint). The chat service, the trainer workspace and the OpenAI API all generate through it. A
/// final assistant message is continued rather than answered (how Continue works); the answer's updates
/// carry the model version in ModelId, the finish reason, and the token usage at the end.
/// </summary>
public sealed class BackendChatClient(ModelRegistry registry, string? modelName = null) : IChatClient
{
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AiMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var backend = registry.Get(options?.ModelId ?? modelName);
        var request = ToBackendRequest(messages.ToList(), options, registry.DefaultTemperature, registry.MaxAnswerTokens);
        string responseId = "chatcmpl-" + Guid.NewGuid().ToString("N");
        await foreach (var delta in backend.StreamAsync(request, cancellationToken))
        {
            var update = new ChatResponseUpdate(ChatRole.Assistant, delta.Text) { ModelId = backend.Version, ResponseId = responseId, CreatedAt = DateTimeOffset.UtcNow };
            if (delta.Finish is { } finish)
            {
                update.FinishReason = finish switch
                {
                    Finish.Length => ChatFinishReason.Length,
                    Finish.Cancelled => new ChatFinishReason(Finish.Cancelled),
                    _ => ChatFinishReason.Stop,
                };
                update.Contents.Add(new UsageContent(new UsageDetails
                {
                    InputTokenCount = delta.PromptTokens, OutputTokenCount = delta.CompletionTokens, TotalTokenCount = delta.PromptTokens + delta.CompletionTokens,
                }));
            }
            yield return update;
        }
    }

    internal static BackendRequest ToBackendRequest(List<AiMessage> messages, ChatOptions? options, double defaultTemperature, int defaultMaxTokens)
    {
        string? partial = null;
        if (messages.Count > 0 && messages[^1].Role == ChatRole.Assistant)
        {
            partial = messages[^1].Text;
            messages = messages[..^1];
        }
        return new BackendRequest
        {
            Messages = messages.Select(m => new TokMessage(m.Role.Value, m.Text)).ToList(),
            ContinueFrom = partial,
            MaxTokens = options?.MaxOutputTokens ?? defaultMaxTokens,
            Temperature = options?.Temperature ?? (float)defaultTemperature,
            TopP = options?.TopP ?? 1f,
            Stop = options?.StopSequences?.ToList() ?? (IReadOnlyList<string>)Array.Empty<string>(),
            Seed = options?.Seed is long seed ? (ulong)seed : null,
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata))
            return new ChatClientMetadata("chatforge", null, registry.TryGet(modelName)?.Name);
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    public void Dispose() { }
}
