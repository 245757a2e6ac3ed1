namespace ChatForge.Server.Storage;

public static class Roles
{
    public const string User = "user";
    public const string Trainer = "trainer";
    public const string Admin = "admin";
    public static readonly string[] All = { User, Trainer, Admin };
}

public static class MessageStatus
{
    public const string Complete = "complete";
    /// <summary>Ended at the per-answer length cap: the UI offers Continue.</summary>
    public const string Truncated = "truncated";
    public const string Stopped = "stopped";
    public const string Generating = "generating";
    public const string Error = "error";
}

public sealed record UserRecord(string Id, string UserName, string? Email, string PasswordHash, string Role,
    long CreatedAt, int FailedLogins, long LockoutUntil, bool Disabled);

public sealed record ApiKeyRecord(string Id, string UserId, string Name, string Prefix, long CreatedAt, long? LastUsedAt);

public sealed record ChatRecord(string Id, string UserId, string Title, string? SystemPrompt, double? Temperature,
    string? Model, string? CurrentLeafId, long CreatedAt, long UpdatedAt);

/// <summary>Messages form a tree: regenerated answers and edited questions are siblings under one parent.</summary>
public sealed record MessageRecord(string Id, string ChatId, string? ParentId, string Role, string Content,
    string Status, string? ModelVersion, int TokenCount, long CreatedAt);

public sealed record FeedbackRecord(string MessageId, string UserId, int Rating, string? Comment, string? ModelVersion, long UpdatedAt);

public sealed record DemonstrationRecord(string Id, string UserId, string Lang, string MessagesJson, long CreatedAt);

/// <summary>AnswersJson holds the answers best first.</summary>
public sealed record RankingRecord(string Id, string UserId, string Lang, string MessagesJson, string AnswersJson, long CreatedAt);

/// <summary>A vote joined with the answer it rates, for statistics and export.</summary>
public sealed record VoteRow(string MessageId, string ChatId, string? ParentId, string Answer, int Rating, string? Comment, string? ModelVersion);

public sealed record ModelFeedbackStats(string ModelVersion, int Up, int Down)
{
    public double UpShare => Up + Down == 0 ? 0 : (double)Up / (Up + Down);
}

public static class Ids
{
    /// <summary>Random, unguessable ids (another user's id cannot be enumerated).</summary>
    public static string New(string prefix) => prefix + "_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
    public static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
