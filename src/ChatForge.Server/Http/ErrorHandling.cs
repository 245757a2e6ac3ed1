using System.Text;
using System.Text.Json;

namespace ChatForge.Server.Http;

/// <summary>
/// Every error leaves the server in OpenAI's JSON shape {"error":{"message","type","param","code"}}, on /api as on /v1,
/// so the web UI and API clients read one format.
/// </summary>
public static class ErrorHandling
{
    public static Task WriteErrorAsync(HttpContext context, int status, string message, string type, string? code = null, string? param = null, int? retryAfter = null)
    {
        context.Response.StatusCode = status;
        if (retryAfter is int seconds) context.Response.Headers.RetryAfter = seconds.ToString();
        return context.Response.WriteAsJsonAsync(new { error = new { message, type, param, code } });
    }

    public static IApplicationBuilder UseJsonErrors(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (!context.Response.HasStarted && Translate(e) is { } error)
        {
            context.Response.Clear();
            await WriteErrorAsync(context, error.Status, error.Message, error.Type, error.Code, error.Param, error.RetryAfterSeconds);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
    });

    static ApiException FromJson(JsonException json)
    {
        bool utf8 = json.Message.Contains("UTF-8", StringComparison.OrdinalIgnoreCase) || json.InnerException is DecoderFallbackException
            || (json.InnerException?.Message.Contains("UTF-8", StringComparison.OrdinalIgnoreCase) ?? false);
        string message = utf8 ? "The request body is not valid UTF-8: " + json.Message : "Malformed JSON in the request body: " + json.Message;
        return new ApiException(400, message, "invalid_request_error", utf8 ? "invalid_utf8" : "invalid_json");
    }

    static ApiException? Translate(Exception e)
    {
        switch (e)
        {
            case ApiException api: return api;
            case RequestTooLargeException tooLarge: return ApiException.TooLarge(tooLarge.Message);
            case BadHttpRequestException bad:
                // Minimal APIs wrap the JSON reader's error; its message names the line and path of the problem.
                for (var inner = bad.InnerException; inner is not null; inner = inner.InnerException)
                {
                    if (inner is RequestTooLargeException big) return ApiException.TooLarge(big.Message);
                    if (inner is JsonException json) return FromJson(json);
                }
                return bad.StatusCode == 413 ? ApiException.TooLarge(bad.Message) : ApiException.BadRequest(bad.Message);
            case JsonException json: return FromJson(json);
            default: return null;
        }
    }
}

public sealed class RequestTooLargeException(long limit) : IOException($"The request body is larger than the limit of {limit} bytes.");

/// <summary>
/// Rejects bodies over the configured size with 413, both when Content-Length says so up front and when a
/// chunked body grows past it (TestServer and Kestrel alike).
/// </summary>
public static class BodyLimit
{
    public static IApplicationBuilder UseBodyLimit(this IApplicationBuilder app, long limit) => app.Use(async (context, next) =>
    {
        if (context.Request.ContentLength > limit)
        {
            await ErrorHandling.WriteErrorAsync(context, 413, $"The request body is {context.Request.ContentLength} bytes; the limit is {limit} bytes.", "invalid_request_error", "too_large");
            return;
        }
        context.Request.Body = new LimitedStream(context.Request.Body, limit);
        await next(context);
    });

    sealed class LimitedStream(Stream inner, long limit) : Stream
    {
        long _read;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => Count(await inner.ReadAsync(buffer, ct));
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        int Count(int n)
        {
            _read += n;
            if (_read > limit) throw new RequestTooLargeException(limit);
            return n;
        }
    }
}
