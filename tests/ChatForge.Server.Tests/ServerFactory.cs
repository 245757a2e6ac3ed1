using ChatForge.Server.Models;
using ChatForge.Tokenizer;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ChatForge.Server.Tests;


/// <summary>Shared tiny model folders, built once per test run.</summary>
internal static class TestModels
{
    static readonly TempDir Root = new();
    static readonly Lazy<string> DefaultDir = new(() => TinyModel.Create(Root.Sub("default"), seed: 1));
    static readonly Lazy<string> SecondDir = new(() => TinyModel.Create(Root.Sub("second"), seed: 2));
    public static string Default => DefaultDir.Value;
    public static string Second => SecondDir.Value;
}

/// <summary>
/// The server in-process (WebApplicationFactory) with its own data folder, the tiny real model loaded
/// through the server's own loader (ChatTokenizer + Checkpoint + Generator), and optional settings.
/// </summary>
public sealed class ServerFactory : WebApplicationFactory<Program>
{
    readonly Dictionary<string, string?> _settings;
    readonly Action<IServiceCollection>? _services;
    internal TempDir Temp { get; } = new();

    public ServerFactory(Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null, bool withModel = true)
    {
        _settings = new Dictionary<string, string?>
        {
            ["ChatForge:DataDir"] = Temp.Sub("data"),
            ["ChatForge:ModelDir"] = withModel ? TestModels.Default : Temp.Sub("no-model-here"),
            ["ChatForge:MaxAnswerTokens"] = "12",
            ["ChatForge:RequestsPerMinute"] = "1000",
            ["ChatForge:LockoutFailures"] = "3",
        };
        foreach (var (k, v) in settings ?? new()) _settings[k] = v;
        _services = services;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(_settings));
        if (_services is not null) builder.ConfigureTestServices(_services);
    }

    public Api NewClient() => new(CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = true, AllowAutoRedirect = false }));

    /// <summary>A logged-in client for a new user (the first user of a server is its admin).</summary>
    public async Task<Api> UserAsync(string? name = null)
    {
        var api = NewClient();
        await api.RegisterAsync(name ?? "u" + Guid.NewGuid().ToString("N")[..10]);
        return api;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Temp.Dispose();
    }
}
