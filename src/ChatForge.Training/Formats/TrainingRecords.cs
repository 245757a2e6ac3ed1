using System.Text.Json.Serialization;
using ChatForge.Tokenizer;

namespace ChatForge.Training.Formats;

/// <summary>One turn as stored in the JSONL files (docs/formats.md).</summary>
public sealed record MessageRecord(
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("content")] string Content);

/// <summary>A supervised dialogue: the loss goes on every assistant turn.</summary>
public sealed record SftRecord
{
    [JsonPropertyName("id")] public string Id { get; init; } = "";
    [JsonPropertyName("task")] public string Task { get; init; } = "";
    [JsonPropertyName("lang")] public string Lang { get; init; } = "";
    [JsonPropertyName("messages")] public List<MessageRecord> Messages { get; init; } = [];
}

/// <summary>A prompt with K ≥ 2 answers ordered best first (trainers' rankings, the data pipeline's or the server's).</summary>
public sealed record RankingRecord
{
    [JsonPropertyName("id")] public string Id { get; init; } = "";
    [JsonPropertyName("task")] public string Task { get; init; } = "";
    [JsonPropertyName("lang")] public string Lang { get; init; } = "";
    /// <summary>The conversation up to and including the last user turn.</summary>
    [JsonPropertyName("messages")] public List<MessageRecord> Messages { get; init; } = [];
    [JsonPropertyName("answers")] public List<string> Answers { get; init; } = [];
    [JsonPropertyName("source")] public string Source { get; init; } = "";
}

/// <summary>A held-out question with its accepted answers; Set is "heldout" (facts seen in pretraining) or "absent".</summary>
public sealed record EvalRecord
{
    [JsonPropertyName("id")] public string Id { get; init; } = "";
    [JsonPropertyName("task")] public string Task { get; init; } = "";
    [JsonPropertyName("lang")] public string Lang { get; init; } = "";
    [JsonPropertyName("set")] public string Set { get; init; } = "";
    [JsonPropertyName("messages")] public List<MessageRecord> Messages { get; init; } = [];
    [JsonPropertyName("answers")] public List<string> Answers { get; init; } = [];
}

public static class RecordValidation
{
    static readonly HashSet<string> Roles = [ChatRoles.System, ChatRoles.User, ChatRoles.Assistant];

    public static IReadOnlyList<ChatMessage> ToChat(this IEnumerable<MessageRecord> messages) =>
        messages.Select(m => new ChatMessage(m.Role, m.Content)).ToList();

    /// <summary>Null when valid, else what is wrong (the reader prefixes file and line).</summary>
    public static string? Check(SftRecord r) =>
        CheckMessages(r.Messages) ?? (r.Messages.Any(m => m.Role == ChatRoles.Assistant) ? null : "no assistant turn to learn from");

    public static string? Check(RankingRecord r) =>
        CheckMessages(r.Messages)
        ?? (r.Messages.Count == 0 || r.Messages[^1].Role != ChatRoles.User ? "messages must end with a user turn" : null)
        ?? (r.Answers.Count < 2 ? $"a ranking needs at least 2 answers, got {r.Answers.Count}" : null)
        ?? (r.Answers.Any(string.IsNullOrWhiteSpace) ? "an answer is empty" : null);

    public static string? Check(EvalRecord r) =>
        CheckMessages(r.Messages) ?? (r.Answers.Count == 0 && r.Set != "absent" ? "no accepted answers" : null);

    static string? CheckMessages(List<MessageRecord>? messages)
    {
        if (messages is null || messages.Count == 0) return "no messages";
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m is null || !Roles.Contains(m.Role)) return $"message {i} has role '{m?.Role}' (expected system, user or assistant)";
            if (m.Content is null) return $"message {i} has no content";
        }
        return null;
    }
}
