namespace ChatForge.Server.Http;

/// <summary>An error with the HTTP status and message the client should see.</summary>
public class ApiException(int status, string message, string type = "invalid_request_error", string? code = null, string? param = null) : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Code { get; } = code;
    public string? Param { get; } = param;
    /// <summary>Seconds for the Retry-After header (429, 503).</summary>
    public int? RetryAfterSeconds { get; init; }

    public static ApiException NotFound(string what) => new(404, $"{what} not found.", "not_found_error", "not_found");
    public static ApiException BadRequest(string message, string? param = null) => new(400, message, "invalid_request_error", "invalid_request", param);
    public static ApiException TooLarge(string message, string? param = null) => new(413, message, "invalid_request_error", "too_large", param);
    public static ApiException TooMany(string message, int retryAfter, string code = "rate_limited") => new(429, message, "rate_limit_error", code) { RetryAfterSeconds = retryAfter };
    public static ApiException NoModel(string message) => new(503, message, "server_error", "model_not_loaded") { RetryAfterSeconds = 30 };
}
