using ChatForge.Data.Dialogues;
using ChatForge.Tokenizer;

namespace ChatForge.Training.Formats;

/// <summary>
/// Checks records of the JSONL formats (docs/formats.md; the types are the data pipeline's, so writer and
/// reader share one definition) before training uses them.
/// </summary>
public static class RecordValidation
{
    static readonly HashSet<string> Roles = [ChatRoles.System, ChatRoles.User, ChatRoles.Assistant];

    public static IReadOnlyList<ChatMessage> ToChat(this IEnumerable<ChatTurn> messages) =>
        messages.Select(m => new ChatMessage(m.Role, m.Content)).ToList();

    /// <summary>Null when valid, else what is wrong (the reader prefixes file and line).</summary>
    public static string? Check(SftRecord r) =>
        CheckMessages(r.Messages) ?? (r.Messages.Any(m => m.Role == ChatRoles.Assistant) ? null : "no assistant turn to learn from")
        ?? (r.Answers is { } a && (a.Count == 0 || a.Any(string.IsNullOrWhiteSpace)) ? "\"answers\", when given, must be non-empty strings" : null);

    public static string? Check(RankingRecord r) =>
        CheckMessages(r.Messages)
        ?? (r.Messages[^1].Role != ChatRoles.User ? "messages must end with a user turn" : null)
        ?? (r.Answers is null || r.Answers.Count < 2 ? $"a ranking needs at least 2 answers, got {r.Answers?.Count ?? 0}" : null)
        ?? (r.Answers.Any(string.IsNullOrWhiteSpace) ? "an answer is empty" : null);

    public static string? Check(EvalRecord r) =>
        CheckMessages(r.Messages)
        ?? (r.Set is not ("heldout" or "absent" or "followup") ? $"set must be \"heldout\", \"absent\" or \"followup\", got \"{r.Set}\"" : null)
        ?? (r.Set != "absent" && (r.Answers is null || r.Answers.Count == 0) ? "no accepted answers" : null)
        ?? (r.Set == "followup" && (r.Messages[^1].Role != ChatRoles.User || !r.Messages.Any(m => m.Role == ChatRoles.Assistant))
            ? "a follow-up needs an earlier assistant turn and must end with the follow-up question (a user turn)" : null);

    static string? CheckMessages(IReadOnlyList<ChatTurn>? messages)
    {
        if (messages is null || messages.Count == 0) return "no messages";
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m is null || m.Role is null || !Roles.Contains(m.Role)) return $"message {i} has role '{m?.Role}' (expected system, user or assistant)";
            if (m.Content is null) return $"message {i} has no content";
        }
        return null;
    }
}
