using System.Data.Common;

namespace ChatForge.Server.Storage;

public abstract partial class SqlStore
{
    const string ChatColumns = "id, user_id, title, system_prompt, temperature, model, current_leaf, created_at, updated_at";
    const string MessageColumns = "id, chat_id, parent_id, role, content, status, model_version, token_count, created_at";

    static ChatRecord MapChat(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), Str(r, 3), DoubleOrNull(r, 4),
        Str(r, 5), Str(r, 6), Long(r, 7), Long(r, 8));

    static MessageRecord MapMessage(DbDataReader r) => new(r.GetString(0), r.GetString(1), Str(r, 2), r.GetString(3), r.GetString(4),
        r.GetString(5), Str(r, 6), (int)Long(r, 7), Long(r, 8));

    public async Task<ChatRecord> CreateChatAsync(string userId, string title, string? systemPrompt, double? temperature, string? model, CancellationToken ct = default)
    {
        long now = Ids.Now();
        var chat = new ChatRecord(Ids.New("c"), userId, title, systemPrompt, temperature, model, null, now, now);
        await ExecuteAsync($"INSERT INTO chats ({ChatColumns}) VALUES (@id, @u, @t, @s, @temp, @m, NULL, @now, @now)", ct,
            ("@id", chat.Id), ("@u", userId), ("@t", title), ("@s", systemPrompt), ("@temp", temperature), ("@m", model), ("@now", now));
        return chat;
    }

    public Task<ChatRecord?> GetChatAsync(string userId, string chatId, CancellationToken ct = default) =>
        QuerySingleAsync($"SELECT {ChatColumns} FROM chats WHERE id = @id AND user_id = @u", MapChat, ct, ("@id", chatId), ("@u", userId));

    public Task<ChatRecord?> GetChatByIdAsync(string chatId, CancellationToken ct = default) =>
        QuerySingleAsync($"SELECT {ChatColumns} FROM chats WHERE id = @id", MapChat, ct, ("@id", chatId));

    public async Task<IReadOnlyList<ChatRecord>> ListChatsAsync(string userId, CancellationToken ct = default) =>
        await QueryAsync($"SELECT {ChatColumns} FROM chats WHERE user_id = @u ORDER BY updated_at DESC", MapChat, ct, ("@u", userId));

    public async Task<bool> UpdateChatAsync(string userId, string chatId, string title, string? systemPrompt, double? temperature, string? model, CancellationToken ct = default) =>
        await ExecuteAsync("UPDATE chats SET title = @t, system_prompt = @s, temperature = @temp, model = @m, updated_at = @now WHERE id = @id AND user_id = @u", ct,
            ("@t", title), ("@s", systemPrompt), ("@temp", temperature), ("@m", model), ("@now", Ids.Now()), ("@id", chatId), ("@u", userId)) > 0;

    public async Task<bool> DeleteChatAsync(string userId, string chatId, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using var check = Command(connection, "SELECT COUNT(*) FROM chats WHERE id = @id AND user_id = @u", ("@id", chatId), ("@u", userId));
        check.Transaction = tx;
        if (Convert.ToInt64(await check.ExecuteScalarAsync(ct)) == 0) return false;
        // Explicit deletes: SQLite only cascades with PRAGMA foreign_keys on, and this keeps both stores alike.
        foreach (var sql in new[]
        {
            "DELETE FROM feedback WHERE message_id IN (SELECT id FROM messages WHERE chat_id = @id)",
            "DELETE FROM messages WHERE chat_id = @id",
            "DELETE FROM chats WHERE id = @id",
        })
        {
            await using var command = Command(connection, sql, ("@id", chatId));
            command.Transaction = tx;
            await command.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    public Task SetCurrentLeafAsync(string chatId, string? leafId, CancellationToken ct = default) =>
        ExecuteAsync("UPDATE chats SET current_leaf = @l, updated_at = @now WHERE id = @id", ct, ("@l", leafId), ("@now", Ids.Now()), ("@id", chatId));

    public async Task<IReadOnlyList<MessageRecord>> GetMessagesAsync(string chatId, CancellationToken ct = default) =>
        await QueryAsync($"SELECT {MessageColumns} FROM messages WHERE chat_id = @c ORDER BY seq", MapMessage, ct, ("@c", chatId));

    public Task<MessageRecord?> GetMessageAsync(string chatId, string messageId, CancellationToken ct = default) =>
        QuerySingleAsync($"SELECT {MessageColumns} FROM messages WHERE chat_id = @c AND id = @id", MapMessage, ct, ("@c", chatId), ("@id", messageId));

    public async Task<MessageRecord> AddMessageAsync(string chatId, string? parentId, string role, string content, string status, string? modelVersion, CancellationToken ct = default)
    {
        var message = new MessageRecord(Ids.New("m"), chatId, parentId, role, content, status, modelVersion, 0, Ids.Now());
        await using var connection = await OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var insert = Command(connection, $"""
            INSERT INTO messages ({MessageColumns}, seq)
            VALUES (@id, @c, @p, @r, @content, @s, @v, 0, @t, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE chat_id = @c))
            """, ("@id", message.Id), ("@c", chatId), ("@p", parentId), ("@r", role), ("@content", content), ("@s", status), ("@v", modelVersion), ("@t", message.CreatedAt)))
        {
            insert.Transaction = tx;
            await insert.ExecuteNonQueryAsync(ct);
        }
        await using (var leaf = Command(connection, "UPDATE chats SET current_leaf = @l, updated_at = @t WHERE id = @c", ("@l", message.Id), ("@t", message.CreatedAt), ("@c", chatId)))
        {
            leaf.Transaction = tx;
            await leaf.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return message;
    }

    public Task UpdateMessageAsync(string messageId, string content, string status, int tokenCount, string? modelVersion, CancellationToken ct = default) =>
        ExecuteAsync("UPDATE messages SET content = @content, status = @s, token_count = @n, model_version = COALESCE(@v, model_version) WHERE id = @id", ct,
            ("@content", content), ("@s", status), ("@n", (long)tokenCount), ("@v", modelVersion), ("@id", messageId));

    // ---- feedback ----

    public async Task SetFeedbackAsync(string messageId, string userId, int rating, string? comment, string? modelVersion, CancellationToken ct = default)
    {
        if (rating == 0)
        {
            await ExecuteAsync("DELETE FROM feedback WHERE message_id = @m AND user_id = @u", ct, ("@m", messageId), ("@u", userId));
            return;
        }
        await ExecuteAsync("""
            INSERT INTO feedback (message_id, user_id, rating, comment, model_version, updated_at) VALUES (@m, @u, @r, @c, @v, @t)
            ON CONFLICT (message_id, user_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment, model_version = excluded.model_version, updated_at = excluded.updated_at
            """, ct, ("@m", messageId), ("@u", userId), ("@r", (long)rating), ("@c", comment), ("@v", modelVersion), ("@t", Ids.Now()));
    }

    public async Task<IReadOnlyList<FeedbackRecord>> GetFeedbackForChatAsync(string chatId, string userId, CancellationToken ct = default) =>
        await QueryAsync("""
            SELECT f.message_id, f.user_id, f.rating, f.comment, f.model_version, f.updated_at FROM feedback f
            JOIN messages m ON m.id = f.message_id WHERE m.chat_id = @c AND f.user_id = @u
            """, r => new FeedbackRecord(r.GetString(0), r.GetString(1), (int)Long(r, 2), Str(r, 3), Str(r, 4), Long(r, 5)), ct, ("@c", chatId), ("@u", userId));

    public async Task<IReadOnlyList<VoteRow>> ListVotesAsync(CancellationToken ct = default) =>
        await QueryAsync("""
            SELECT m.id, m.chat_id, m.parent_id, m.content, f.rating, f.comment, f.model_version FROM feedback f
            JOIN messages m ON m.id = f.message_id ORDER BY f.updated_at
            """, r => new VoteRow(r.GetString(0), r.GetString(1), Str(r, 2), r.GetString(3), (int)Long(r, 4), Str(r, 5), Str(r, 6)), ct);

    public async Task<IReadOnlyList<ModelFeedbackStats>> FeedbackStatsAsync(CancellationToken ct = default) =>
        await QueryAsync("""
            SELECT COALESCE(model_version, 'unknown'), SUM(CASE WHEN rating > 0 THEN 1 ELSE 0 END), SUM(CASE WHEN rating < 0 THEN 1 ELSE 0 END)
            FROM feedback GROUP BY COALESCE(model_version, 'unknown') ORDER BY 1
            """, r => new ModelFeedbackStats(r.GetString(0), (int)Long(r, 1), (int)Long(r, 2)), ct);

    // ---- trainer workspace ----

    /// <summary>A filter on the owner only when one is given (an untyped NULL parameter is an error in PostgreSQL).</summary>
    static string OwnerFilter(string? userId, string keyword) => userId is null ? "" : keyword + " user_id = @u";

    public async Task<DemonstrationRecord> AddDemonstrationAsync(string userId, string lang, string messagesJson, CancellationToken ct = default)
    {
        var d = new DemonstrationRecord(Ids.New("demo"), userId, lang, messagesJson, Ids.Now());
        await ExecuteAsync("INSERT INTO demonstrations (id, user_id, lang, messages_json, created_at) VALUES (@id, @u, @l, @m, @t)", ct,
            ("@id", d.Id), ("@u", userId), ("@l", lang), ("@m", messagesJson), ("@t", d.CreatedAt));
        return d;
    }

    public async Task<IReadOnlyList<DemonstrationRecord>> ListDemonstrationsAsync(string? userId, CancellationToken ct = default) =>
        await QueryAsync($"SELECT id, user_id, lang, messages_json, created_at FROM demonstrations {OwnerFilter(userId, "WHERE")} ORDER BY created_at",
            r => new DemonstrationRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), Long(r, 4)), ct, ("@u", userId));

    public async Task<bool> DeleteDemonstrationAsync(string id, string? userId, CancellationToken ct = default) =>
        await ExecuteAsync($"DELETE FROM demonstrations WHERE id = @id {OwnerFilter(userId, "AND")}", ct, ("@id", id), ("@u", userId)) > 0;

    public async Task<RankingRecord> AddRankingAsync(string userId, string lang, string messagesJson, string answersJson, CancellationToken ct = default)
    {
        var r = new RankingRecord(Ids.New("rank"), userId, lang, messagesJson, answersJson, Ids.Now());
        await ExecuteAsync("INSERT INTO rankings (id, user_id, lang, messages_json, answers_json, created_at) VALUES (@id, @u, @l, @m, @a, @t)", ct,
            ("@id", r.Id), ("@u", userId), ("@l", lang), ("@m", messagesJson), ("@a", answersJson), ("@t", r.CreatedAt));
        return r;
    }

    public async Task<IReadOnlyList<RankingRecord>> ListRankingsAsync(string? userId, CancellationToken ct = default) =>
        await QueryAsync($"SELECT id, user_id, lang, messages_json, answers_json, created_at FROM rankings {OwnerFilter(userId, "WHERE")} ORDER BY created_at",
            r => new RankingRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), Long(r, 5)), ct, ("@u", userId));
}
