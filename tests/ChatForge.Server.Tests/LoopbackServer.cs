using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace ChatForge.Server.Tests;

/// <summary>The server on a real loopback port (Kestrel on 127.0.0.1:0), for a browser: TestServer is not reachable from outside the process.</summary>
public sealed class LoopbackServer : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly TempDir _temp = new();
    public string Url { get; }

    LoopbackServer(WebApplication app, string url) { _app = app; Url = url; }

    public static async Task<LoopbackServer> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var temp = new TempDir();
        var builder = ServerApp.CreateBuilder([]);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ChatForge:DataDir"] = temp.Sub("data"),
            ["ChatForge:ModelDir"] = TestModels.Default,
            ["ChatForge:MaxAnswerTokens"] = "24",
        });
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = ServerApp.Build(builder);
        await app.StartAsync();
        return new LoopbackServer(app, app.Urls.First());
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _temp.Dispose();
    }
}
