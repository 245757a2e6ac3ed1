using System.Security.Claims;
using System.Text.Json;
using ChatForge.Server.Accounts;
using ChatForge.Server.Chat;
using ChatForge.Server.Http;
using ChatForge.Server.Models;
using ChatForge.Server.Storage;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using AiMessage = Microsoft.Extensions.AI.ChatMessage;

namespace ChatForge.Server.Training;

public sealed record DemonstrationRequest(List<TurnJson>? Messages, string? Lang);
public sealed record SampleRequest(List<TurnJson>? Messages, int? K, double? Temperature, string? Model);
public sealed record RankingRequest(List<TurnJson>? Messages, List<string>? Answers, string? Lang);

/// <summary>The trainer workspace: written demonstrations (both sides of a dialogue) and rankings of sampled answers.</summary>
public static class TrainerEndpoints
{
    public const string Policy = "trainer";

    public static void MapTrainerEndpoints(this WebApplication app)
    {
        var group = app.MapGroup("/api/trainer").RequireAuthorization(Policy);

        group.MapPost("/demonstrations", async (DemonstrationRequest body, ClaimsPrincipal user, ITrainerRepository repo, IOptions<ServerOptions> options, CancellationToken ct) =>
        {
            var messages = CheckTurns(body.Messages, options.Value, endsWith: "assistant");
            string lang = CheckLang(body.Lang, messages);
            var d = await repo.AddDemonstrationAsync(user.UserId(), lang, JsonSerializer.Serialize(messages), ct);
            return Results.Created($"/api/trainer/demonstrations/{d.Id}", new { id = d.Id, lang, messages, created_at = d.CreatedAt });
        });

        group.MapGet("/demonstrations", async (ClaimsPrincipal user, ITrainerRepository repo, CancellationToken ct) =>
            Results.Ok((await repo.ListDemonstrationsAsync(user.IsInRole(Roles.Admin) ? null : user.UserId(), ct)).Select(d => new
            {
                id = d.Id, lang = d.Lang, messages = JsonSerializer.Deserialize<List<TurnJson>>(d.MessagesJson), created_at = d.CreatedAt,
            })));

        group.MapDelete("/demonstrations/{id}", async (string id, ClaimsPrincipal user, ITrainerRepository repo, CancellationToken ct) =>
            await repo.DeleteDemonstrationAsync(id, user.IsInRole(Roles.Admin) ? null : user.UserId(), ct) ? Results.NoContent() : throw ApiException.NotFound("Demonstration"));

        // K answers to one prompt, sampled together (the engine batches them), for the trainer to rank.
        group.MapPost("/rankings/sample", async (SampleRequest body, ModelRegistry models, GenerationGate gate, QuotaService quota, ClaimsPrincipal user,
            IOptions<ServerOptions> options, CancellationToken ct) =>
        {
            var messages = CheckTurns(body.Messages, options.Value, endsWith: "user");
            int k = body.K ?? 4;
            if (k is < 2 or > 8) throw ApiException.BadRequest("k must be between 2 and 8.", "k");
            double temperature = body.Temperature ?? 1.0;
            if (temperature is < 0 or > 2) throw ApiException.BadRequest("temperature must be between 0 and 2.", "temperature");
            var backend = models.Get(body.Model);
            await quota.EnsureAvailableAsync(user.UserId(), ct);
            var client = new BackendChatClient(models);
            var prompt = messages.Select(m => new AiMessage(new ChatRole(m.Role), m.Content)).ToList();
            var tickets = Enumerable.Range(0, k).Select(_ => gate.Enter()).ToList();
            try
            {
                var answers = await Task.WhenAll(tickets.Select(async ticket =>
                {
                    await ticket.WaitAsync(ct);
                    try
                    {
                        var response = await client.GetResponseAsync(prompt, new ChatOptions
                        {
                            ModelId = backend.Name, Temperature = (float)temperature, MaxOutputTokens = options.Value.MaxAnswerTokens,
                        }, ct);
                        await quota.AddAsync(user.UserId(), response.Usage?.TotalTokenCount ?? 0);
                        return response.Text;
                    }
                    catch (ModelBackendException e) { throw new ApiException(e.Status, e.Message); }
                }));
                return Results.Ok(new { messages, answers, model_version = backend.Version });
            }
            finally
            {
                foreach (var t in tickets) t.Dispose();
            }
        });

        group.MapPost("/rankings", async (RankingRequest body, ClaimsPrincipal user, ITrainerRepository repo, IOptions<ServerOptions> options, CancellationToken ct) =>
        {
            var messages = CheckTurns(body.Messages, options.Value, endsWith: "user");
            var answers = body.Answers ?? throw ApiException.BadRequest("answers (best first) are required.", "answers");
            if (answers.Count < 2) throw ApiException.BadRequest("A ranking needs at least 2 answers, best first.", "answers");
            for (int i = 0; i < answers.Count; i++)
            {
                if (string.IsNullOrWhiteSpace(answers[i])) throw ApiException.BadRequest($"answers[{i}] is empty.", "answers");
                Validation.OptionalText(answers[i], $"answers[{i}]", options.Value.MaxMessageChars);
            }
            if (answers.Distinct().Count() != answers.Count) throw ApiException.BadRequest("The answers must differ from each other.", "answers");
            string lang = CheckLang(body.Lang, messages);
            var r = await repo.AddRankingAsync(user.UserId(), lang, JsonSerializer.Serialize(messages), JsonSerializer.Serialize(answers), ct);
            return Results.Created($"/api/trainer/rankings/{r.Id}", new { id = r.Id, lang, messages, answers });
        });

        group.MapGet("/rankings", async (ClaimsPrincipal user, ITrainerRepository repo, CancellationToken ct) =>
            Results.Ok((await repo.ListRankingsAsync(user.IsInRole(Roles.Admin) ? null : user.UserId(), ct)).Select(r => new
            {
                id = r.Id, lang = r.Lang, messages = JsonSerializer.Deserialize<List<TurnJson>>(r.MessagesJson),
                answers = JsonSerializer.Deserialize<List<string>>(r.AnswersJson), created_at = r.CreatedAt,
            })));
    }

    /// <summary>An optional system turn, then user and assistant turns alternating, ending as required.</summary>
    static List<TurnJson> CheckTurns(List<TurnJson>? messages, ServerOptions o, string endsWith)
    {
        if (messages is null || messages.Count == 0) throw ApiException.BadRequest("messages are required.", "messages");
        if (messages.Count > 200) throw ApiException.TooLarge("At most 200 messages.", "messages");
        string expected = "user";
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m is null || m.Role is null) throw ApiException.BadRequest($"messages[{i}].role is required.", $"messages[{i}].role");
            if (string.IsNullOrWhiteSpace(m.Content)) throw ApiException.BadRequest($"messages[{i}].content is empty.", $"messages[{i}].content");
            Validation.OptionalText(m.Content, $"messages[{i}].content", m.Role == "system" ? o.MaxSystemPromptChars : o.MaxMessageChars);
            if (i == 0 && m.Role == "system") continue;
            if (m.Role != expected) throw ApiException.BadRequest($"messages[{i}].role must be '{expected}' (an optional system turn, then user and assistant alternating).", $"messages[{i}].role");
            expected = expected == "user" ? "assistant" : "user";
        }
        if (messages[^1].Role != endsWith) throw ApiException.BadRequest($"The last message must be a {endsWith} turn.", "messages");
        return messages.Select(m => new TurnJson(m.Role, m.Content)).ToList();
    }

    static string CheckLang(string? lang, List<TurnJson> messages) => lang switch
    {
        null or "" => ExportService.DetectLang(messages.Select(m => m.Content)),
        "zh" or "en" => lang,
        _ => throw ApiException.BadRequest("lang must be 'zh' or 'en'.", "lang"),
    };
}
