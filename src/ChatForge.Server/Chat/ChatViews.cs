using ChatForge.Server.Storage;

namespace ChatForge.Server.Chat;

public sealed record CreateChatRequest(string? Title, string? SystemPrompt, double? Temperature, string? Model);
public sealed record UpdateChatRequest(string? Title, string? SystemPrompt, double? Temperature, string? Model);
public sealed record SendMessageRequest(string? Content);
public sealed record SelectRequest(string? MessageId);
public sealed record FeedbackRequest(int? Rating, string? Comment);

/// <summary>The conversation as the UI shows it: the path from the root to the chat's current leaf, each message with its alternatives.</summary>
public static class ChatViews
{
    public static object Chat(ChatRecord c) => new
    {
        id = c.Id, title = c.Title, system_prompt = c.SystemPrompt, temperature = c.Temperature, model = c.Model,
        created_at = c.CreatedAt, updated_at = c.UpdatedAt,
    };

    public static object Message(MessageRecord m, IReadOnlyList<string>? siblings = null, FeedbackRecord? feedback = null) => new
    {
        id = m.Id, parent_id = m.ParentId, role = m.Role, content = m.Content, status = m.Status, model_version = m.ModelVersion,
        token_count = m.TokenCount, created_at = m.CreatedAt,
        siblings = siblings ?? [m.Id],
        sibling_index = siblings is null ? 0 : Math.Max(0, siblings.ToList().IndexOf(m.Id)),
        feedback = feedback is null ? null : new { rating = feedback.Rating, comment = feedback.Comment },
    };

    /// <summary>Root-to-leaf path through the message tree.</summary>
    public static List<MessageRecord> Path(IReadOnlyList<MessageRecord> all, string? leafId)
    {
        var byId = all.ToDictionary(m => m.Id);
        var path = new List<MessageRecord>();
        for (string? id = leafId; id is not null && byId.TryGetValue(id, out var m); id = m.ParentId)
        {
            path.Add(m);
            if (path.Count > all.Count) break; // a cycle would be a storage bug; never loop forever
        }
        path.Reverse();
        return path;
    }

    /// <summary>The deepest message under <paramref name="id"/>, following the newest child at each step (the branch last worked on).</summary>
    public static string DeepestLeaf(IReadOnlyList<MessageRecord> all, string id)
    {
        var children = all.Where(m => m.ParentId is not null).GroupBy(m => m.ParentId!).ToDictionary(g => g.Key, g => g.Last());
        string current = id;
        for (int guard = 0; guard <= all.Count && children.TryGetValue(current, out var child); guard++) current = child.Id;
        return current;
    }

    public static IReadOnlyList<string> Siblings(IReadOnlyList<MessageRecord> all, MessageRecord m) =>
        all.Where(x => x.ParentId == m.ParentId && x.Role == m.Role).Select(x => x.Id).ToList();
}
