using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ChatForge.Server.Models;

/// <summary>
/// A model served by any OpenAI-compatible endpoint (vLLM, llama.cpp server, Ollama, another ChatForge):
/// streams POST {baseUrl}/chat/completions. Continue sends the partial answer as a final assistant message,
/// which these servers continue (vLLM with continue_final_message, which is also sent).
/// </summary>
public sealed class OpenAiCompatibleBackend(HttpClient http, string name, string baseUrl, string? apiKey, string model, int contextLength) : ModelBackend
{
    readonly string _endpoint = baseUrl.TrimEnd('/') + "/chat/completions";

    public override string Name => name;
    public override string Version => $"{name}:{model}";
    public override string Kind => "openai-compatible";
    public override int ContextLength => contextLength;

    public override async IAsyncEnumerable<BackendDelta> StreamAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var messages = new JsonArray();
        foreach (var m in request.Messages) messages.Add(new JsonObject { ["role"] = m.Role, ["content"] = m.Content });
        bool continuing = request.ContinueFrom is { Length: > 0 };
        if (continuing) messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = request.ContinueFrom });
        var body = new JsonObject
        {
            ["model"] = model,
            ["messages"] = messages,
            ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
            ["max_tokens"] = request.MaxTokens,
            ["temperature"] = request.Temperature,
            ["top_p"] = request.TopP,
        };
        if (request.Stop.Count > 0) body["stop"] = new JsonArray(request.Stop.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());
        if (request.Seed is ulong seed) body["seed"] = seed;
        if (continuing) { body["continue_final_message"] = true; body["add_generation_prompt"] = false; }

        using var message = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        if (!string.IsNullOrEmpty(apiKey)) message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new ModelBackendException(502, $"Model '{name}': the endpoint {_endpoint} cannot be reached ({e.Message}).", e);
        }
        using var _ = response;
        if (!response.IsSuccessStatusCode)
        {
            string text = await response.Content.ReadAsStringAsync(cancellationToken);
            string detail = text;
            try { detail = JsonNode.Parse(text)?["error"]?["message"]?.GetValue<string>() ?? text; } catch (JsonException) { }
            int status = (int)response.StatusCode is 400 or 413 or 429 ? (int)response.StatusCode : 502;
            throw new ModelBackendException(status, $"Model '{name}': the endpoint answered {(int)response.StatusCode}: {detail}");
        }

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
        string? finish = null;
        int promptTokens = 0, completionTokens = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal)) continue;
            string data = line[5..].Trim();
            if (data == "[DONE]") break;
            JsonNode? chunk;
            try { chunk = JsonNode.Parse(data); }
            catch (JsonException e) { throw new ModelBackendException(502, $"Model '{name}': the endpoint sent a malformed stream chunk ({e.Message}).", e); }
            if (chunk?["error"]?["message"] is JsonNode error) throw new ModelBackendException(502, $"Model '{name}': {error.GetValue<string>()}");
            if (chunk?["usage"] is JsonObject usage)
            {
                promptTokens = usage["prompt_tokens"]?.GetValue<int>() ?? promptTokens;
                completionTokens = usage["completion_tokens"]?.GetValue<int>() ?? completionTokens;
            }
            if (chunk?["choices"] is JsonArray { Count: > 0 } choices)
            {
                var choice = choices[0]!;
                if (choice["delta"]?["content"]?.GetValue<string>() is { Length: > 0 } content) yield return new BackendDelta(content);
                if (choice["finish_reason"]?.GetValue<string>() is { } reason) finish = reason;
            }
        }
        if (cancellationToken.IsCancellationRequested) finish = Finish.Cancelled;
        yield return new BackendDelta("", finish == Finish.Length ? Finish.Length : finish == Finish.Cancelled ? Finish.Cancelled : Finish.Stop, promptTokens, completionTokens);
    }
}
