using ChatForge.Server.Http;
using ChatForge.Server.Storage;
using Microsoft.Extensions.Options;

namespace ChatForge.Server.Accounts;

/// <summary>The daily token quota per user (prompt + answer tokens, UTC day).</summary>
public sealed class QuotaService(IUsageRepository usage, IOptions<ServerOptions> options)
{
    static string Today => DateTime.UtcNow.ToString("yyyy-MM-dd");

    public async Task EnsureAvailableAsync(string userId, CancellationToken ct)
    {
        long quota = options.Value.DailyTokenQuota;
        if (quota <= 0) return;
        long used = await usage.GetTokensUsedAsync(userId, Today, ct);
        if (used >= quota)
        {
            int untilMidnight = (int)Math.Ceiling((DateTime.UtcNow.Date.AddDays(1) - DateTime.UtcNow).TotalSeconds);
            throw ApiException.TooMany($"Daily token quota used up ({used} of {quota} tokens); it resets at 00:00 UTC.", untilMidnight, "quota_exceeded");
        }
    }

    public Task AddAsync(string userId, long tokens) => tokens > 0 ? usage.AddTokensAsync(userId, Today, tokens) : Task.CompletedTask;

    public Task<long> UsedTodayAsync(string userId, CancellationToken ct) => usage.GetTokensUsedAsync(userId, Today, ct);
}
