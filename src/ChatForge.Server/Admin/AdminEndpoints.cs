using System.Security.Claims;
using ChatForge.Server.Accounts;
using ChatForge.Server.Http;
using ChatForge.Server.Models;
using ChatForge.Server.Storage;
using ChatForge.Server.Training;

namespace ChatForge.Server.Admin;

public sealed record UpdateUserRequest(string? Role, bool? Disabled);
public sealed record LoadModelRequest(string? Dir);

public static class AdminEndpoints
{
    public const string Policy = "admin";

    public static void MapAdminEndpoints(this WebApplication app)
    {
        var group = app.MapGroup("/api/admin").RequireAuthorization(Policy);

        group.MapGet("/users", async (IUserRepository users, CancellationToken ct) =>
            Results.Ok((await users.ListUsersAsync(ct)).Select(AuthEndpoints.UserView)));

        group.MapPatch("/users/{id}", async (string id, UpdateUserRequest body, ClaimsPrincipal me, IUserRepository users, CancellationToken ct) =>
        {
            var user = await users.FindUserAsync(id, ct) ?? throw ApiException.NotFound("User");
            if (body.Role is not null)
            {
                if (!Roles.All.Contains(body.Role)) throw ApiException.BadRequest($"role must be one of {string.Join(", ", Roles.All)}.", "role");
                if (user.Id == me.UserId() && body.Role != Roles.Admin) throw ApiException.BadRequest("Admins cannot remove their own admin role.", "role");
                await users.SetRoleAsync(id, body.Role, ct);
            }
            if (body.Disabled is bool disabled)
            {
                if (user.Id == me.UserId() && disabled) throw ApiException.BadRequest("Admins cannot disable themselves.", "disabled");
                await users.SetDisabledAsync(id, disabled, ct);
            }
            return Results.Ok(AuthEndpoints.UserView((await users.FindUserAsync(id, ct))!));
        });

        group.MapGet("/models", (ModelRegistry models, GenerationGate gate) => Results.Ok(new
        {
            default_model = models.DefaultName,
            local_dir = models.LocalModelDir,
            local_error = models.LocalLoadError,
            active_generations = gate.Active,
            admitted_generations = gate.Admitted,
            models = models.All.Select(m => new { name = m.Name, version = m.Version, kind = m.Kind, context_length = m.ContextLength }),
        }));

        // Loads a newly trained version without restarting: chats in progress finish on the old one.
        group.MapPost("/models/load", (LoadModelRequest? body, ModelRegistry models) =>
        {
            string dir = string.IsNullOrWhiteSpace(body?.Dir) ? models.LocalModelDir ?? throw ApiException.BadRequest("dir is required.", "dir") : body!.Dir!.Trim();
            if (models.TryLoadLocal(dir) is { } error) throw new ApiException(400, $"Could not load the model from '{dir}': {error}", "invalid_request_error", "model_load_failed", "dir");
            var m = models.Get(null);
            return Results.Ok(new { name = m.Name, version = m.Version, context_length = m.ContextLength });
        });

        group.MapGet("/feedback/stats", async (IFeedbackRepository feedback, CancellationToken ct) =>
            Results.Ok((await feedback.FeedbackStatsAsync(ct)).Select(s => new { model_version = s.ModelVersion, up = s.Up, down = s.Down, up_share = s.UpShare })));

        group.MapGet("/export/{kind}", async (string kind, HttpContext context, ExportService export) =>
        {
            Func<Stream, CancellationToken, Task> write = kind switch
            {
                "votes" => export.WriteVotesAsync,
                "demonstrations" or "sft" => export.WriteDemonstrationsAsync,
                "rankings" or "rm" or "dpo" => export.WriteRankingsAsync,
                _ => throw ApiException.NotFound($"Export '{kind}' (use votes, demonstrations or rankings)"),
            };
            context.Response.ContentType = "application/jsonl; charset=utf-8";
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"chatforge-{kind}-{DateTime.UtcNow:yyyyMMdd}.jsonl\"";
            await write(context.Response.Body, context.RequestAborted);
        });
    }
}
