using System.Net.ServerSentEvents;
using System.Threading.Channels;
using ChatForge.Server.Accounts;
using ChatForge.Server.Http;
using ChatForge.Server.Models;
using ChatForge.Server.Storage;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using AiMessage = Microsoft.Extensions.AI.ChatMessage;

namespace ChatForge.Server.Chat;

/// <summary>
/// Sending, regenerating, editing and continuing: every message is stored before the client hears of it,
/// the answer streams through the IChatClient, is saved as it grows, and ends as complete, truncated (at
/// the per-answer cap: Continue appends to the same message), stopped or error.
/// </summary>
public sealed class ChatService(IChatRepository chats, ModelRegistry models, GenerationGate gate, QuotaService quota,
    ActiveGenerations active, IOptions<ServerOptions> options, ILogger<ChatService> log)
{
    public const string DefaultTitle = "New chat";
    static readonly TimeSpan SaveEvery = TimeSpan.FromSeconds(1);

    /// <summary>"继续" / "continue" typed as a message continues the last answer instead of starting a turn.</summary>
    public static bool IsContinueCommand(string text) => text.Trim() is var t &&
        (t == "继续" || t == "繼續" || string.Equals(t, "continue", StringComparison.OrdinalIgnoreCase));

    public async Task<ChatRecord> GetChatAsync(string userId, string chatId, CancellationToken ct) =>
        await chats.GetChatAsync(userId, chatId, ct) ?? throw ApiException.NotFound("Chat");

    public string ValidateContent(string? content, string field = "content")
    {
        if (content is null || string.IsNullOrWhiteSpace(content)) throw ApiException.BadRequest("The message is empty.", field);
        int max = options.Value.MaxMessageChars;
        if (content.Length > max) throw ApiException.TooLarge($"The message has {content.Length} characters; the limit is {max}.", field);
        Validation.EnsureText(content, field);
        return content;
    }

    public async Task<GenerationRun> SendAsync(string userId, string chatId, string? content, CancellationToken requestAborted)
    {
        var chat = await GetChatAsync(userId, chatId, requestAborted);
        string text = ValidateContent(content);
        var all = await chats.GetMessagesAsync(chat.Id, requestAborted);
        var path = ChatViews.Path(all, chat.CurrentLeafId);
        if (IsContinueCommand(text) && path.LastOrDefault() is { Role: "assistant", Status: MessageStatus.Truncated or MessageStatus.Stopped } last)
            return await ContinueAsync(userId, chat, last, path, requestAborted);
        return await AskAsync(userId, chat, path.LastOrDefault()?.Id, path, text, requestAborted);
    }

    /// <summary>Editing a user message: the new text becomes a sibling of the old one (a new branch) and is answered.</summary>
    public async Task<GenerationRun> EditAsync(string userId, string chatId, string messageId, string? content, CancellationToken ct)
    {
        var chat = await GetChatAsync(userId, chatId, ct);
        string text = ValidateContent(content);
        var all = await chats.GetMessagesAsync(chat.Id, ct);
        var original = all.FirstOrDefault(m => m.Id == messageId) ?? throw ApiException.NotFound("Message");
        if (original.Role != "user") throw ApiException.BadRequest("Only user messages can be edited; regenerate an answer instead.", "message_id");
        var path = ChatViews.Path(all, original.ParentId);
        return await AskAsync(userId, chat, original.ParentId, path, text, ct);
    }

    /// <summary>A new answer to the same question, kept beside the earlier ones.</summary>
    public async Task<GenerationRun> RegenerateAsync(string userId, string chatId, string messageId, CancellationToken ct)
    {
        var chat = await GetChatAsync(userId, chatId, ct);
        var all = await chats.GetMessagesAsync(chat.Id, ct);
        var answer = all.FirstOrDefault(m => m.Id == messageId) ?? throw ApiException.NotFound("Message");
        if (answer.Role != "assistant") throw ApiException.BadRequest("Only answers can be regenerated.", "message_id");
        if (active.IsRunning(answer.Id)) throw new ApiException(409, "This answer is still being generated; stop it first.", "invalid_request_error", "busy");
        var context = ChatViews.Path(all, answer.ParentId);
        var (backend, ticket) = await AdmitAsync(userId, chat, ct);
        var reply = await chats.AddMessageAsync(chat.Id, answer.ParentId, "assistant", "", MessageStatus.Generating, backend.Version, ct);
        return Start(userId, chat, context, reply, ticket, ct, userMessage: null);
    }

    public async Task<GenerationRun> ContinueAsync(string userId, string chatId, string messageId, CancellationToken ct)
    {
        var chat = await GetChatAsync(userId, chatId, ct);
        var all = await chats.GetMessagesAsync(chat.Id, ct);
        var answer = all.FirstOrDefault(m => m.Id == messageId) ?? throw ApiException.NotFound("Message");
        if (answer.Role != "assistant") throw ApiException.BadRequest("Only answers can be continued.", "message_id");
        return await ContinueAsync(userId, chat, answer, ChatViews.Path(all, answer.Id), ct);
    }

    async Task<GenerationRun> ContinueAsync(string userId, ChatRecord chat, MessageRecord answer, List<MessageRecord> pathToAnswer, CancellationToken ct)
    {
        if (answer.Status is not (MessageStatus.Truncated or MessageStatus.Stopped))
            throw ApiException.BadRequest("This answer is finished; only an answer cut at the length limit or stopped can be continued.", "message_id");
        if (active.IsRunning(answer.Id)) throw new ApiException(409, "This answer is still being generated.", "invalid_request_error", "busy");
        var (_, ticket) = await AdmitAsync(userId, chat, ct);
        await chats.SetCurrentLeafAsync(chat.Id, answer.Id, ct);
        var context = pathToAnswer.Where(m => m.Id != answer.Id).ToList();
        return Start(userId, chat, context, answer, ticket, ct, userMessage: null, continuing: true);
    }

    async Task<GenerationRun> AskAsync(string userId, ChatRecord chat, string? parentId, List<MessageRecord> path, string text, CancellationToken ct)
    {
        var (backend, ticket) = await AdmitAsync(userId, chat, ct);
        try
        {
            var question = await chats.AddMessageAsync(chat.Id, parentId, "user", text, MessageStatus.Complete, null, ct);
            var reply = await chats.AddMessageAsync(chat.Id, question.Id, "assistant", "", MessageStatus.Generating, backend.Version, ct);
            if (chat.Title == DefaultTitle && parentId is null) await chats.UpdateChatAsync(userId, chat.Id, TitleFrom(text), chat.SystemPrompt, chat.Temperature, chat.Model, ct);
            return Start(userId, chat, [.. path, question], reply, ticket, ct, userMessage: question);
        }
        catch
        {
            ticket.Dispose();
            throw;
        }
    }

    static string TitleFrom(string text)
    {
        string line = text.Trim().Split('\n')[0].Trim();
        return line.Length <= 40 ? line : line[..40] + "…";
    }

    /// <summary>Model, quota and queue checks, in that order, before anything is stored.</summary>
    async Task<(ModelBackend, GenerationGate.Ticket)> AdmitAsync(string userId, ChatRecord chat, CancellationToken ct)
    {
        var backend = models.Get(chat.Model);
        await quota.EnsureAvailableAsync(userId, ct);
        return (backend, gate.Enter());
    }

    GenerationRun Start(string userId, ChatRecord chat, List<MessageRecord> context, MessageRecord reply, GenerationGate.Ticket ticket,
        CancellationToken requestAborted, MessageRecord? userMessage, bool continuing = false)
    {
        var messages = new List<AiMessage>();
        if (!string.IsNullOrWhiteSpace(chat.SystemPrompt)) messages.Add(new AiMessage(ChatRole.System, chat.SystemPrompt));
        foreach (var m in context.Where(m => m.Role is "user" or "assistant" && (m.Role == "user" || m.Content.Length > 0)))
            messages.Add(new AiMessage(m.Role == "user" ? ChatRole.User : ChatRole.Assistant, m.Content));
        if (continuing) messages.Add(new AiMessage(ChatRole.Assistant, reply.Content));

        var channel = Channel.CreateUnbounded<SseItem<object>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        channel.Writer.TryWrite(new SseItem<object>(new
        {
            chat_id = chat.Id,
            user_message = userMessage is null ? null : ChatViews.Message(userMessage),
            assistant_message = ChatViews.Message(reply),
            continued = continuing,
        }, "start"));
        var cts = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        var registration = active.Register(chat.Id, reply.Id, cts);
        var chatOptions = new ChatOptions
        {
            ModelId = chat.Model,
            MaxOutputTokens = options.Value.MaxAnswerTokens,
            Temperature = (float)(chat.Temperature ?? options.Value.DefaultTemperature),
        };
        _ = Task.Run(async () =>
        {
            try { await ProduceAsync(userId, messages, chatOptions, reply, continuing, ticket, cts.Token, channel.Writer); }
            finally { registration.Dispose(); cts.Dispose(); ticket.Dispose(); channel.Writer.TryComplete(); }
        }, CancellationToken.None);
        return new GenerationRun(reply.Id, channel.Reader);
    }

    async Task ProduceAsync(string userId, List<AiMessage> messages, ChatOptions chatOptions, MessageRecord reply, bool continuing,
        GenerationGate.Ticket ticket, CancellationToken ct, ChannelWriter<SseItem<object>> events)
    {
        string content = continuing ? reply.Content : "";
        string version = reply.ModelVersion ?? "";
        string? finish = null, error = null;
        long promptTokens = 0, completionTokens = 0;
        var lastSave = DateTime.UtcNow;
        var client = new BackendChatClient(models);
        try
        {
            await ticket.WaitAsync(ct);
            await foreach (var update in client.GetStreamingResponseAsync(messages, chatOptions, ct))
            {
                if (update.ModelId is { } v) version = v;
                if (update.Text is { Length: > 0 } piece)
                {
                    content += piece;
                    events.TryWrite(new SseItem<object>(new { text = piece }, "delta"));
                }
                if (update.FinishReason is { } reason) finish = reason.Value;
                foreach (var usage in update.Contents.OfType<UsageContent>())
                {
                    promptTokens = usage.Details.InputTokenCount ?? promptTokens;
                    completionTokens = usage.Details.OutputTokenCount ?? completionTokens;
                }
                if (DateTime.UtcNow - lastSave > SaveEvery)
                {
                    lastSave = DateTime.UtcNow;
                    await chats.UpdateMessageAsync(reply.Id, content, MessageStatus.Generating, reply.TokenCount, version, CancellationToken.None);
                }
            }
        }
        catch (OperationCanceledException) { finish = Finish.Cancelled; }
        catch (ApiException e) { error = e.Message; }
        catch (ModelBackendException e) { error = e.Message; }
        catch (Exception e)
        {
            log.LogError(e, "Generation of {MessageId} failed", reply.Id);
            error = "The model failed while answering: " + e.Message;
        }
        if (finish is null && error is null) finish = Finish.Stop;
        string status = error is not null ? MessageStatus.Error
            : finish == Finish.Length ? MessageStatus.Truncated
            : finish == Finish.Cancelled ? MessageStatus.Stopped
            : MessageStatus.Complete;
        int tokens = reply.TokenCount + (int)completionTokens;
        await chats.UpdateMessageAsync(reply.Id, content, status, tokens, version, CancellationToken.None);
        await quota.AddAsync(userId, promptTokens + completionTokens);
        var done = new { message_id = reply.Id, status, content, token_count = tokens, model_version = version, finish_reason = finish, error };
        events.TryWrite(new SseItem<object>(done, error is null ? "done" : "error"));
    }
}

/// <summary>A started generation: the id of the answer and its events (start, delta…, done or error).</summary>
public sealed record GenerationRun(string MessageId, ChannelReader<SseItem<object>> Events)
{
    public IAsyncEnumerable<SseItem<object>> ReadAllAsync(CancellationToken ct) => Events.ReadAllAsync(ct);

    /// <summary>Waits for the end and returns the final event's data (tests and non-streaming callers).</summary>
    public async Task<SseItem<object>> CompletionAsync(CancellationToken ct = default)
    {
        SseItem<object> last = default;
        await foreach (var item in Events.ReadAllAsync(ct)) last = item;
        return last;
    }
}
