namespace ChatForge.Server.Storage;

public interface IUserRepository
{
    Task<int> CountUsersAsync(CancellationToken ct = default);
    /// <summary>Inserts the user; returns false when the name is taken. The first user of an empty store becomes admin.</summary>
    Task<UserRecord?> CreateUserAsync(string userName, string? email, string passwordHash, CancellationToken ct = default);
    Task<UserRecord?> FindUserByNameAsync(string userName, CancellationToken ct = default);
    Task<UserRecord?> FindUserAsync(string id, CancellationToken ct = default);
    Task<IReadOnlyList<UserRecord>> ListUsersAsync(CancellationToken ct = default);
    Task RecordLoginFailureAsync(string id, int failures, long lockoutUntil, CancellationToken ct = default);
    Task ResetLoginFailuresAsync(string id, CancellationToken ct = default);
    Task<bool> SetRoleAsync(string id, string role, CancellationToken ct = default);
    Task<bool> SetDisabledAsync(string id, bool disabled, CancellationToken ct = default);
    Task UpdatePasswordHashAsync(string id, string hash, CancellationToken ct = default);
}

public interface IApiKeyRepository
{
    Task<ApiKeyRecord> CreateApiKeyAsync(string userId, string name, string prefix, string keyHash, CancellationToken ct = default);
    Task<IReadOnlyList<ApiKeyRecord>> ListApiKeysAsync(string userId, CancellationToken ct = default);
    Task<bool> DeleteApiKeyAsync(string userId, string id, CancellationToken ct = default);
    /// <summary>The owner of a key given its hash; also stamps last use.</summary>
    Task<UserRecord?> FindUserByApiKeyHashAsync(string keyHash, CancellationToken ct = default);
}

public interface IChatRepository
{
    Task<ChatRecord> CreateChatAsync(string userId, string title, string? systemPrompt, double? temperature, string? model, CancellationToken ct = default);
    /// <summary>Null when the chat does not exist or belongs to another user.</summary>
    Task<ChatRecord?> GetChatAsync(string userId, string chatId, CancellationToken ct = default);
    /// <summary>Any user's chat (exports and admin statistics only).</summary>
    Task<ChatRecord?> GetChatByIdAsync(string chatId, CancellationToken ct = default);
    Task<IReadOnlyList<ChatRecord>> ListChatsAsync(string userId, CancellationToken ct = default);
    Task<bool> UpdateChatAsync(string userId, string chatId, string title, string? systemPrompt, double? temperature, string? model, CancellationToken ct = default);
    Task<bool> DeleteChatAsync(string userId, string chatId, CancellationToken ct = default);
    Task SetCurrentLeafAsync(string chatId, string? leafId, CancellationToken ct = default);
    Task<IReadOnlyList<MessageRecord>> GetMessagesAsync(string chatId, CancellationToken ct = default);
    Task<MessageRecord?> GetMessageAsync(string chatId, string messageId, CancellationToken ct = default);
    /// <summary>Inserts the message and moves the chat's current leaf to it, in one transaction.</summary>
    Task<MessageRecord> AddMessageAsync(string chatId, string? parentId, string role, string content, string status, string? modelVersion, CancellationToken ct = default);
    Task UpdateMessageAsync(string messageId, string content, string status, int tokenCount, string? modelVersion, CancellationToken ct = default);
}

public interface IFeedbackRepository
{
    /// <summary>Rating 1 or -1 stores the vote (replacing an earlier one); 0 removes it.</summary>
    Task SetFeedbackAsync(string messageId, string userId, int rating, string? comment, string? modelVersion, CancellationToken ct = default);
    Task<IReadOnlyList<FeedbackRecord>> GetFeedbackForChatAsync(string chatId, string userId, CancellationToken ct = default);
    Task<IReadOnlyList<VoteRow>> ListVotesAsync(CancellationToken ct = default);
    Task<IReadOnlyList<ModelFeedbackStats>> FeedbackStatsAsync(CancellationToken ct = default);
}

public interface ITrainerRepository
{
    Task<DemonstrationRecord> AddDemonstrationAsync(string userId, string lang, string messagesJson, CancellationToken ct = default);
    Task<IReadOnlyList<DemonstrationRecord>> ListDemonstrationsAsync(string? userId, CancellationToken ct = default);
    Task<bool> DeleteDemonstrationAsync(string id, string? userId, CancellationToken ct = default);
    Task<RankingRecord> AddRankingAsync(string userId, string lang, string messagesJson, string answersJson, CancellationToken ct = default);
    Task<IReadOnlyList<RankingRecord>> ListRankingsAsync(string? userId, CancellationToken ct = default);
}

public interface IUsageRepository
{
    Task<long> GetTokensUsedAsync(string userId, string day, CancellationToken ct = default);
    Task AddTokensAsync(string userId, string day, long tokens, CancellationToken ct = default);
}
