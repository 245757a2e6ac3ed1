using System.Security.Claims;
using System.Text.Json;
using System.Threading.RateLimiting;
using ChatForge.Server.Accounts;
using ChatForge.Server.Admin;
using ChatForge.Server.Chat;
using ChatForge.Server.Http;
using ChatForge.Server.Models;
using ChatForge.Server.OpenAi;
using ChatForge.Server.Storage;
using ChatForge.Server.Training;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace ChatForge.Server;

/// <summary>Builds the chat service: storage, accounts, models, and the endpoints grouped by resource.</summary>
public static class ServerApp
{
    /// <summary>Short command-line switches for the common settings.</summary>
    static readonly Dictionary<string, string> Switches = new()
    {
        ["--data-dir"] = "ChatForge:DataDir",
        ["--model-dir"] = "ChatForge:ModelDir",
        ["--database"] = "ChatForge:Database",
        ["--connection-string"] = "ChatForge:ConnectionString",
    };

    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory, WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot") });
        builder.Configuration.AddCommandLine(args.Where(a => !a.StartsWith("make-admin")).ToArray(), Switches);
        ConfigureServices(builder);
        return builder;
    }

    public static void ConfigureServices(WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.Configure<ServerOptions>(builder.Configuration.GetSection("ChatForge"));
        // Everything below reads the options lazily, so settings added later (tests, WebApplicationFactory) apply.
        services.PostConfigure<ServerOptions>(o => o.DataDir = Path.GetFullPath(o.DataDir, Environment.CurrentDirectory));

        services.AddSingleton<SqlStore>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<ServerOptions>>().Value;
            if (string.Equals(o.Database, "postgres", StringComparison.OrdinalIgnoreCase) || string.Equals(o.Database, "postgresql", StringComparison.OrdinalIgnoreCase))
                return new PostgresStore(o.ConnectionString ?? throw new InvalidOperationException("ChatForge:Database is postgres but ChatForge:ConnectionString is not set."));
            if (!string.Equals(o.Database, "sqlite", StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException($"ChatForge:Database must be 'sqlite' or 'postgres', not '{o.Database}'.");
            Directory.CreateDirectory(o.DataDir);
            return o.ConnectionString is { Length: > 0 } cs ? new SqliteStore(cs) : SqliteStore.ForFile(Path.Combine(o.DataDir, "chatforge.db"));
        });
        services.AddSingleton<IUserRepository>(sp => sp.GetRequiredService<SqlStore>());
        services.AddSingleton<IApiKeyRepository>(sp => sp.GetRequiredService<SqlStore>());
        services.AddSingleton<IChatRepository>(sp => sp.GetRequiredService<SqlStore>());
        services.AddSingleton<IFeedbackRepository>(sp => sp.GetRequiredService<SqlStore>());
        services.AddSingleton<ITrainerRepository>(sp => sp.GetRequiredService<SqlStore>());
        services.AddSingleton<IUsageRepository>(sp => sp.GetRequiredService<SqlStore>());

        services.AddHttpClient();
        services.AddSingleton<ILocalModelLoader, EngineModelLoader>();
        services.AddSingleton<ModelRegistry>();
        services.AddSingleton<GenerationGate>();
        services.AddSingleton<ActiveGenerations>();
        services.AddSingleton<QuotaService>();
        services.AddSingleton<AccountService>();
        services.AddSingleton<ChatService>();
        services.AddSingleton<ExportService>();
        services.AddSingleton<Microsoft.Extensions.AI.IChatClient>(sp => new BackendChatClient(sp.GetRequiredService<ModelRegistry>()));

        // Data-Protection keys (cookies, antiforgery) live in the data folder, never in the home directory.
        services.AddDataProtection().SetApplicationName("ChatForge");
        services.AddOptions<KeyManagementOptions>().Configure<IOptions<ServerOptions>, ILoggerFactory>((km, o, logs) =>
            km.XmlRepository = new FileSystemXmlRepository(Directory.CreateDirectory(Path.Combine(o.Value.DataDir, "keys")), logs));
        services.AddAntiforgery(o =>
        {
            o.HeaderName = AntiforgeryCheck.HeaderName;
            o.Cookie.Name = "chatforge.csrf";
            o.Cookie.SameSite = SameSiteMode.Strict;
        });

        const string Smart = "cookie-or-key";
        services.AddAuthentication(Smart)
            .AddPolicyScheme(Smart, "Cookie or API key", o => o.ForwardDefaultSelector = context =>
                context.Request.Headers.Authorization.Any() ? ApiKeyAuthenticationHandler.SchemeName : CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(CookieAuthenticationDefaults.AuthenticationScheme, o =>
            {
                o.Cookie.Name = "chatforge.auth";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.ExpireTimeSpan = TimeSpan.FromDays(14);
                o.SlidingExpiration = true;
                o.Events.OnRedirectToLogin = c => ErrorHandling.WriteErrorAsync(c.HttpContext, 401, "Log in first.", "authentication_error", "unauthenticated");
                o.Events.OnRedirectToAccessDenied = c => ErrorHandling.WriteErrorAsync(c.HttpContext, 403, "Your role does not allow this.", "permission_error", "forbidden");
                o.Events.OnValidatePrincipal = RevalidateAsync;
            })
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(OpenAiEndpoints.Policy, p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser())
            .AddPolicy(TrainerEndpoints.Policy, p => p.RequireRole(Roles.Trainer, Roles.Admin))
            .AddPolicy(AdminEndpoints.Policy, p => p.RequireRole(Roles.Admin));

        services.AddRateLimiter(o =>
        {
            o.AddPolicy(ChatEndpoints.GenerationPolicy, context =>
            {
                string key = context.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? context.Connection.RemoteIpAddress?.ToString() ?? "anonymous";
                int perMinute = context.RequestServices.GetRequiredService<IOptions<ServerOptions>>().Value.RequestsPerMinute;
                return RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions { PermitLimit = Math.Max(1, perMinute), Window = TimeSpan.FromMinutes(1), QueueLimit = 0 });
            });
            o.OnRejected = (context, _) =>
            {
                int retry = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? (int)Math.Ceiling(after.TotalSeconds) : 60;
                return new ValueTask(ErrorHandling.WriteErrorAsync(context.HttpContext, 429, $"Too many requests: try again in {retry} seconds.", "rate_limit_error", "rate_limited", retryAfter: retry));
            };
        });

        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<ServerOptions>>((k, o) => k.Limits.MaxRequestBodySize = o.Value.MaxBodyBytes);
    }

    /// <summary>Each cookie request re-reads the user: a disabled account or a changed role takes effect at once.</summary>
    static async Task RevalidateAsync(CookieValidatePrincipalContext context)
    {
        var id = context.Principal?.FindFirstValue(ClaimTypes.NameIdentifier);
        var user = id is null ? null : await context.HttpContext.RequestServices.GetRequiredService<IUserRepository>().FindUserAsync(id, context.HttpContext.RequestAborted);
        if (user is null || user.Disabled)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return;
        }
        if (context.Principal!.FindFirstValue(ClaimTypes.Role) != user.Role || context.Principal?.Identity?.Name != user.UserName)
        {
            context.ReplacePrincipal(AccountService.Principal(user, CookieAuthenticationDefaults.AuthenticationScheme));
            context.ShouldRenew = true;
        }
    }

    public static WebApplication Build(WebApplicationBuilder builder)
    {
        var app = builder.Build();
        var o = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value;
        app.Services.GetRequiredService<SqlStore>().MigrateAsync().GetAwaiter().GetResult();
        _ = app.Services.GetRequiredService<ModelRegistry>(); // load the model at start-up, not on the first request

        app.UseJsonErrors();
        app.Use(async (context, next) =>
        {
            var h = context.Response.Headers;
            h.XContentTypeOptions = "nosniff";
            h["Referrer-Policy"] = "no-referrer";
            h.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
            await next(context);
        });
        app.UseBodyLimit(o.MaxBodyBytes);
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseRouting();
        app.UseAuthentication();
        app.UseAntiforgeryForApi();
        app.UseAuthorization();
        app.UseRateLimiter();

        app.MapGet("/healthz", (ModelRegistry models) => Results.Ok(new { status = "ok", model_loaded = models.TryGet(null) is not null }));
        app.MapAuthEndpoints();
        app.MapChatEndpoints();
        app.MapTrainerEndpoints();
        app.MapAdminEndpoints();
        app.MapOpenAiEndpoints();
        app.Map("/api/{**rest}", (string? rest) => Results.Json(new { error = new { message = $"No API endpoint /api/{rest}.", type = "invalid_request_error", code = "not_found", param = (string?)null } }, statusCode: 404));
        app.Map("/v1/{**rest}", (string? rest) => Results.Json(new { error = new { message = $"No API endpoint /v1/{rest}.", type = "invalid_request_error", code = "not_found", param = (string?)null } }, statusCode: 404));
        return app;
    }

    public static WebApplication Create(string[] args) => Build(CreateBuilder(args));
}
