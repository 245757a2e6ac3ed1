using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace ChatForge.Server.Tests;

/// <summary>A browser-like client: cookies, the antiforgery header, JSON and SSE helpers.</summary>
public sealed class Api(HttpClient http) : IDisposable
{
    public HttpClient Http { get; } = http;
    public string? UserName { get; private set; }

    public async Task RefreshCsrfAsync()
    {
        var token = (await Http.GetFromJsonAsync<JsonObject>("/api/auth/csrf"))!["token"]!.GetValue<string>();
        Http.DefaultRequestHeaders.Remove("X-CSRF-TOKEN");
        Http.DefaultRequestHeaders.Add("X-CSRF-TOKEN", token);
    }

    public async Task<JsonNode> RegisterAsync(string name, string password = "correct horse 1")
    {
        await RefreshCsrfAsync();
        var result = await ExpectAsync(await Http.PostAsJsonAsync("/api/auth/register", new { username = name, password }), HttpStatusCode.Created);
        UserName = name;
        await RefreshCsrfAsync(); // tokens are bound to the logged-in user
        return result;
    }

    public async Task<HttpResponseMessage> LoginAsync(string name, string password)
    {
        await RefreshCsrfAsync();
        var response = await Http.PostAsJsonAsync("/api/auth/login", new { username = name, password });
        if (response.IsSuccessStatusCode) await RefreshCsrfAsync();
        return response;
    }

    public Task<HttpResponseMessage> PostAsync(string url, object? body) => Http.PostAsJsonAsync(url, body);
    public Task<HttpResponseMessage> PutAsync(string url, object? body) => Http.PutAsJsonAsync(url, body);
    public Task<HttpResponseMessage> PatchAsync(string url, object? body) => Http.PatchAsJsonAsync(url, body);

    public Task<HttpResponseMessage> PostRawAsync(string url, byte[] body, string contentType = "application/json")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        return Http.PostAsync(url, content);
    }

    public async Task<JsonNode> GetJsonAsync(string url) => await ExpectAsync(await Http.GetAsync(url), HttpStatusCode.OK);

    public static async Task<JsonNode> ExpectAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? new JsonObject() : JsonNode.Parse(text)!;
    }

    /// <summary>Asserts an error answer: the status and OpenAI's error shape with a non-empty message.</summary>
    public static async Task<string> ExpectErrorAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var json = await ExpectAsync(response, status);
        var message = json["error"]?["message"]?.GetValue<string>();
        Assert.False(string.IsNullOrWhiteSpace(message), "error without message: " + json.ToJsonString());
        return message!;
    }

    public async Task<string> CreateChatAsync(object? settings = null) =>
        (await ExpectAsync(await PostAsync("/api/chats", settings ?? new { }), HttpStatusCode.Created))["id"]!.GetValue<string>();

    /// <summary>POSTs and reads the whole SSE stream: (event, data) pairs.</summary>
    /// <param name="onEvent">Awaited after each event arrives (e.g. to press Stop once the answer is streaming).</param>
    public async Task<List<(string Event, JsonNode Data)>> StreamAsync(string url, object? body = null, Func<string, Task>? onEvent = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = JsonContent.Create(body ?? new { }) };
        using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode) Assert.Fail($"{url} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return await ReadEventsAsync(await response.Content.ReadAsStreamAsync(), onEvent: onEvent);
    }

    public static async Task<List<(string Event, JsonNode Data)>> ReadEventsAsync(Stream stream, int stopAfter = int.MaxValue, Func<string, Task>? onEvent = null)
    {
        var events = new List<(string, JsonNode)>();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string type = "message";
        var data = new StringBuilder();
        while (events.Count < stopAfter && await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event:")) type = line[6..].Trim();
            else if (line.StartsWith("data:")) data.Append(line[5..].TrimStart());
            else if (line.Length == 0 && data.Length > 0)
            {
                events.Add((type, JsonNode.Parse(data.ToString())!));
                if (onEvent is not null) await onEvent(type);
                type = "message";
                data.Clear();
            }
        }
        return events;
    }

    public void Dispose() => Http.Dispose();
}
