using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatForge.Server.Accounts;
using ChatForge.Server.Chat;
using ChatForge.Server.Http;
using ChatForge.Server.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using AiMessage = Microsoft.Extensions.AI.ChatMessage;

namespace ChatForge.Server.OpenAi;

/// <summary>
/// OpenAI-compatible API: POST /v1/chat/completions (stream and non-stream) and GET /v1/models, with
/// per-user API keys. A final assistant message is continued (as vLLM's continue_final_message and Ollama do),
/// which is how another ChatForge uses this server as its backend for Continue.
/// </summary>
public static class OpenAiEndpoints
{
    public const string Policy = "openai";

    public static void MapOpenAiEndpoints(this WebApplication app)
    {
        var v1 = app.MapGroup("/v1").RequireAuthorization(Policy);

        v1.MapGet("/models", (ModelRegistry models) => Results.Ok(new
        {
            @object = "list",
            data = models.All.Select(m => new { id = m.Name, @object = "model", created = 0, owned_by = "chatforge", version = m.Version, context_length = m.ContextLength, kind = m.Kind }),
        }));

        v1.MapPost("/chat/completions", Complete).RequireRateLimiting(ChatEndpoints.GenerationPolicy);
    }

    sealed record Parsed(string? Model, List<AiMessage> Messages, ChatOptions Options, bool Stream, bool IncludeUsage);

    static async Task Complete(HttpContext context, ClaimsPrincipal user, ModelRegistry models, QuotaService quota, GenerationGate gate, IOptions<ServerOptions> options)
    {
        JsonNode? body;
        try { body = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted); }
        catch (JsonException e) { throw new ApiException(400, "Malformed JSON in the request body: " + e.Message, "invalid_request_error", "invalid_json"); }
        var request = Parse(body as JsonObject ?? throw ApiException.BadRequest("The request body must be a JSON object."), options.Value);
        var backend = models.Get(request.Model);
        request.Options.ModelId = backend.Name;
        request.Options.MaxOutputTokens = Math.Min(request.Options.MaxOutputTokens ?? options.Value.MaxAnswerTokens, backend.ContextLength);
        string userId = user.UserId();
        await quota.EnsureAvailableAsync(userId, context.RequestAborted);
        using var ticket = gate.Enter();
        await ticket.WaitAsync(context.RequestAborted);

        var client = new BackendChatClient(models);
        string id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!request.Stream)
        {
            ChatResponse response;
            try { response = await client.GetResponseAsync(request.Messages, request.Options, context.RequestAborted); }
            catch (ModelBackendException e) { throw new ApiException(e.Status, e.Message, e.Status >= 500 ? "server_error" : "invalid_request_error"); }
            var usage = response.Usage;
            await quota.AddAsync(userId, usage?.TotalTokenCount ?? 0);
            await context.Response.WriteAsJsonAsync(new
            {
                id, @object = "chat.completion", created, model = backend.Name, system_fingerprint = response.ModelId,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = response.Text }, finish_reason = FinishName(response.FinishReason), logprobs = (object?)null } },
                usage = new { prompt_tokens = usage?.InputTokenCount ?? 0, completion_tokens = usage?.OutputTokenCount ?? 0, total_tokens = usage?.TotalTokenCount ?? 0 },
            });
            return;
        }

        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        async Task Send(object chunk)
        {
            await context.Response.WriteAsync("data: " + JsonSerializer.Serialize(chunk) + "\n\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
        object Chunk(object delta, string? finish) => new
        {
            id, @object = "chat.completion.chunk", created, model = backend.Name,
            choices = new[] { new { index = 0, delta, finish_reason = finish, logprobs = (object?)null } },
        };

        UsageDetails? final = null;
        var enumerator = client.GetStreamingResponseAsync(request.Messages, request.Options, context.RequestAborted).GetAsyncEnumerator(context.RequestAborted);
        try
        {
            // The first piece comes before the headers go out, so a context overflow is still a plain 400.
            bool any;
            try { any = await enumerator.MoveNextAsync(); }
            catch (ModelBackendException e) { throw new ApiException(e.Status, e.Message, e.Status >= 500 ? "server_error" : "invalid_request_error"); }
            await Send(Chunk(new { role = "assistant", content = "" }, null));
            try
            {
                while (any)
                {
                    var update = enumerator.Current;
                    if (update.Text is { Length: > 0 } text) await Send(Chunk(new { content = text }, null));
                    if (update.FinishReason is { } reason) await Send(Chunk(new { }, FinishName(reason)));
                    if (update.Contents.OfType<UsageContent>().FirstOrDefault() is { } u) final = u.Details;
                    any = await enumerator.MoveNextAsync();
                }
            }
            catch (ModelBackendException e)
            {
                await Send(new { error = new { message = e.Message, type = "server_error", param = (string?)null, code = (string?)null } });
            }
            if (request.IncludeUsage)
                await Send(new
                {
                    id, @object = "chat.completion.chunk", created, model = backend.Name, choices = Array.Empty<object>(),
                    usage = new { prompt_tokens = final?.InputTokenCount ?? 0, completion_tokens = final?.OutputTokenCount ?? 0, total_tokens = final?.TotalTokenCount ?? 0 },
                });
            await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
        }
        finally
        {
            await enumerator.DisposeAsync();
            await quota.AddAsync(userId, final?.TotalTokenCount ?? 0);
        }
    }

    static string FinishName(ChatFinishReason? reason) => reason == ChatFinishReason.Length ? "length" : "stop";

    static Parsed Parse(JsonObject body, ServerOptions o)
    {
        string? model = Str(body, "model");
        if (body["messages"] is not JsonArray array || array.Count == 0) throw ApiException.BadRequest("'messages' must be a non-empty array.", "messages");
        var messages = new List<AiMessage>();
        for (int i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject m) throw ApiException.BadRequest($"messages[{i}] must be an object.", $"messages[{i}]");
            string role = Str(m, "role", $"messages[{i}].role") ?? throw ApiException.BadRequest($"messages[{i}].role is required.", $"messages[{i}].role");
            if (role == "developer") role = "system";
            if (role is not ("system" or "user" or "assistant"))
                throw ApiException.BadRequest($"messages[{i}].role '{role}' is not supported (system, developer, user, assistant).", $"messages[{i}].role");
            string content = Content(m["content"], $"messages[{i}].content");
            if (content.Length > o.MaxMessageChars * 4) throw ApiException.TooLarge($"messages[{i}].content has {content.Length} characters; the limit is {o.MaxMessageChars * 4}.", $"messages[{i}].content");
            Validation.EnsureText(content, $"messages[{i}].content");
            messages.Add(new AiMessage(new ChatRole(role), content));
        }
        var chatOptions = new ChatOptions();
        if (Number(body, "temperature") is double t)
            chatOptions.Temperature = t is >= 0 and <= 2 ? (float)t : throw ApiException.BadRequest("temperature must be between 0 and 2.", "temperature");
        if (Number(body, "top_p") is double p)
            chatOptions.TopP = p is > 0 and <= 1 ? (float)p : throw ApiException.BadRequest("top_p must be in (0, 1].", "top_p");
        if ((Number(body, "max_completion_tokens") ?? Number(body, "max_tokens")) is double max)
            chatOptions.MaxOutputTokens = max >= 1 && max == Math.Floor(max) && max <= int.MaxValue ? (int)max : throw ApiException.BadRequest("max_tokens must be a positive integer.", "max_tokens");
        if (Number(body, "seed") is double seed) chatOptions.Seed = (long)seed;
        if (Number(body, "n") is double n && n != 1) throw ApiException.BadRequest("Only n = 1 is supported.", "n");
        chatOptions.StopSequences = body["stop"] switch
        {
            null => null,
            JsonValue v when v.TryGetValue(out string? s) => [s],
            JsonArray a when a.Count <= 4 => a.Select((x, i) => x is JsonValue xv && xv.TryGetValue(out string? s) ? s : throw ApiException.BadRequest($"stop[{i}] must be a string.", "stop")).ToList(),
            _ => throw ApiException.BadRequest("stop must be a string or an array of up to 4 strings.", "stop"),
        };
        bool stream = body["stream"] is JsonValue sv && sv.TryGetValue(out bool b) && b;
        bool includeUsage = body["stream_options"]?["include_usage"] is JsonValue iu && iu.TryGetValue(out bool inc) && inc;
        return new Parsed(model, messages, chatOptions, stream, includeUsage);
    }

    static string? Str(JsonObject o, string name, string? param = null) => o[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        _ => throw ApiException.BadRequest($"'{param ?? name}' must be a string.", param ?? name),
    };

    static double? Number(JsonObject o, string name) => o[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out double d) => d,
        _ => throw ApiException.BadRequest($"'{name}' must be a number.", name),
    };

    /// <summary>A string, or an array of parts of which the text parts are joined.</summary>
    static string Content(JsonNode? node, string param) => node switch
    {
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonArray parts => string.Concat(parts.Select((part, i) => part?["type"]?.GetValue<string>() == "text"
            ? part["text"]?.GetValue<string>() ?? ""
            : throw ApiException.BadRequest($"{param}[{i}]: only text parts are supported.", param))),
        _ => throw ApiException.BadRequest($"{param} must be a string or an array of text parts.", param),
    };
}
