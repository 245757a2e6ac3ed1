using System.Security.Claims;
using ChatForge.Server.Accounts;
using ChatForge.Server.Http;
using ChatForge.Server.Models;
using ChatForge.Server.Storage;
using Microsoft.Extensions.Options;

namespace ChatForge.Server.Chat;

public static class ChatEndpoints
{
    public const string GenerationPolicy = "generation";

    public static void MapChatEndpoints(this WebApplication app)
    {
        var group = app.MapGroup("/api/chats").RequireAuthorization();

        group.MapGet("/", async (ClaimsPrincipal user, IChatRepository chats, CancellationToken ct) =>
            Results.Ok((await chats.ListChatsAsync(user.UserId(), ct)).Select(ChatViews.Chat)));

        group.MapPost("/", async (CreateChatRequest? body, ClaimsPrincipal user, IChatRepository chats, ModelRegistry models, IOptions<ServerOptions> options, CancellationToken ct) =>
        {
            var (title, system, temperature, model) = CheckSettings(body?.Title, body?.SystemPrompt, body?.Temperature, body?.Model, models, options.Value);
            var chat = await chats.CreateChatAsync(user.UserId(), title ?? ChatService.DefaultTitle, system, temperature, model, ct);
            return Results.Created($"/api/chats/{chat.Id}", ChatViews.Chat(chat));
        });

        group.MapGet("/{chatId}", async (string chatId, ClaimsPrincipal user, IChatRepository chats, IFeedbackRepository feedback, ChatService service, CancellationToken ct) =>
        {
            var chat = await service.GetChatAsync(user.UserId(), chatId, ct);
            var all = await chats.GetMessagesAsync(chat.Id, ct);
            var votes = (await feedback.GetFeedbackForChatAsync(chat.Id, user.UserId(), ct)).ToDictionary(f => f.MessageId);
            var path = ChatViews.Path(all, chat.CurrentLeafId);
            return Results.Ok(new
            {
                chat = ChatViews.Chat(chat),
                messages = path.Select(m => ChatViews.Message(m, ChatViews.Siblings(all, m), votes.GetValueOrDefault(m.Id))),
            });
        });

        group.MapPatch("/{chatId}", async (string chatId, UpdateChatRequest body, ClaimsPrincipal user, IChatRepository chats, ChatService service,
            ModelRegistry models, IOptions<ServerOptions> options, CancellationToken ct) =>
        {
            var chat = await service.GetChatAsync(user.UserId(), chatId, ct);
            var (title, system, temperature, model) = CheckSettings(body.Title, body.SystemPrompt, body.Temperature, body.Model, models, options.Value);
            // Absent fields keep their value; an empty system prompt or model clears it.
            string newTitle = title ?? chat.Title;
            string? newSystem = body.SystemPrompt is null ? chat.SystemPrompt : system;
            double? newTemperature = body.Temperature is null ? chat.Temperature : temperature;
            string? newModel = body.Model is null ? chat.Model : model;
            await chats.UpdateChatAsync(user.UserId(), chat.Id, newTitle, newSystem, newTemperature, newModel, ct);
            return Results.Ok(ChatViews.Chat((await chats.GetChatAsync(user.UserId(), chat.Id, ct))!));
        });

        group.MapDelete("/{chatId}", async (string chatId, ClaimsPrincipal user, IChatRepository chats, ActiveGenerations active, CancellationToken ct) =>
        {
            active.StopChat(chatId);
            return await chats.DeleteChatAsync(user.UserId(), chatId, ct) ? Results.NoContent() : throw ApiException.NotFound("Chat");
        });

        // Generation: each answers with an SSE stream (events start, delta…, done | error).
        group.MapPost("/{chatId}/messages", async (string chatId, SendMessageRequest body, ClaimsPrincipal user, ChatService service, HttpContext context) =>
            Stream(await service.SendAsync(user.UserId(), chatId, body.Content, context.RequestAborted), context))
            .RequireRateLimiting(GenerationPolicy);

        group.MapPost("/{chatId}/messages/{messageId}/edit", async (string chatId, string messageId, SendMessageRequest body, ClaimsPrincipal user, ChatService service, HttpContext context) =>
            Stream(await service.EditAsync(user.UserId(), chatId, messageId, body.Content, context.RequestAborted), context))
            .RequireRateLimiting(GenerationPolicy);

        group.MapPost("/{chatId}/messages/{messageId}/regenerate", async (string chatId, string messageId, ClaimsPrincipal user, ChatService service, HttpContext context) =>
            Stream(await service.RegenerateAsync(user.UserId(), chatId, messageId, context.RequestAborted), context))
            .RequireRateLimiting(GenerationPolicy);

        group.MapPost("/{chatId}/messages/{messageId}/continue", async (string chatId, string messageId, ClaimsPrincipal user, ChatService service, HttpContext context) =>
            Stream(await service.ContinueAsync(user.UserId(), chatId, messageId, context.RequestAborted), context))
            .RequireRateLimiting(GenerationPolicy);

        group.MapPost("/{chatId}/stop", async (string chatId, ClaimsPrincipal user, ChatService service, ActiveGenerations active, CancellationToken ct) =>
        {
            var chat = await service.GetChatAsync(user.UserId(), chatId, ct);
            return Results.Ok(new { stopped = active.StopChat(chat.Id) });
        });

        // Switch to another alternative (a regenerated answer or an edited question): the chat follows that branch.
        group.MapPost("/{chatId}/select", async (string chatId, SelectRequest body, ClaimsPrincipal user, IChatRepository chats, ChatService service, CancellationToken ct) =>
        {
            var chat = await service.GetChatAsync(user.UserId(), chatId, ct);
            if (string.IsNullOrEmpty(body.MessageId)) throw ApiException.BadRequest("message_id is required.", "message_id");
            var all = await chats.GetMessagesAsync(chat.Id, ct);
            if (all.All(m => m.Id != body.MessageId)) throw ApiException.NotFound("Message");
            await chats.SetCurrentLeafAsync(chat.Id, ChatViews.DeepestLeaf(all, body.MessageId), ct);
            return Results.NoContent();
        });

        group.MapPut("/{chatId}/messages/{messageId}/feedback", async (string chatId, string messageId, FeedbackRequest body, ClaimsPrincipal user,
            IChatRepository chats, IFeedbackRepository feedback, ChatService service, CancellationToken ct) =>
        {
            var chat = await service.GetChatAsync(user.UserId(), chatId, ct);
            var message = await chats.GetMessageAsync(chat.Id, messageId, ct) ?? throw ApiException.NotFound("Message");
            if (message.Role != "assistant") throw ApiException.BadRequest("Only answers can be rated.", "message_id");
            if (body.Rating is not (1 or -1 or 0)) throw ApiException.BadRequest("rating must be 1 (👍), -1 (👎) or 0 (remove the vote).", "rating");
            string? comment = Validation.OptionalText(string.IsNullOrWhiteSpace(body.Comment) ? null : body.Comment.Trim(), "comment", 2000);
            await feedback.SetFeedbackAsync(message.Id, user.UserId(), body.Rating.Value, comment, message.ModelVersion, ct);
            return Results.Ok(new { message_id = message.Id, rating = body.Rating, comment, model_version = message.ModelVersion });
        });
    }

    static IResult Stream(GenerationRun run, HttpContext context)
    {
        context.Response.Headers["X-Accel-Buffering"] = "no"; // proxies must not hold back the stream
        return TypedResults.ServerSentEvents(run.ReadAllAsync(context.RequestAborted));
    }

    static (string? Title, string? SystemPrompt, double? Temperature, string? Model) CheckSettings(string? title, string? system, double? temperature, string? model,
        ModelRegistry models, ServerOptions o)
    {
        if (title is not null)
        {
            title = title.Trim();
            if (title.Length == 0) throw ApiException.BadRequest("The title is empty.", "title");
        }
        title = Validation.OptionalText(title, "title", o.MaxTitleChars);
        system = Validation.OptionalText(string.IsNullOrWhiteSpace(system) ? null : system, "system_prompt", o.MaxSystemPromptChars);
        if (temperature is double t && (double.IsNaN(t) || t < 0 || t > 2)) throw ApiException.BadRequest("temperature must be between 0 and 2.", "temperature");
        if (string.IsNullOrWhiteSpace(model)) model = null;
        else if (models.TryGet(model) is null && !string.Equals(model, models.DefaultName, StringComparison.OrdinalIgnoreCase))
            throw ApiException.BadRequest($"The model '{model}' does not exist.", "model");
        return (title, system, temperature, model);
    }
}
