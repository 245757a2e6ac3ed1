using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ChatForge.Server.Chat;
using ChatForge.Server.Storage;

namespace ChatForge.Server.Training;

/// <summary>One chat turn as the training stages read it.</summary>
public sealed record TurnJson([property: JsonPropertyName("role")] string Role, [property: JsonPropertyName("content")] string Content);

/// <summary>
/// The data loop's way out: JSONL in the formats `sft`, `rm` and `dpo` read (docs/formats.md).
///   demonstrations (sft): {"id","task":"demonstration","lang","messages":[{"role","content"}…]}
///   rankings (rm, dpo):   {"id","task","lang","messages":[… up to the last user turn],"answers":[best … worst],"source":"server"}
///                         from the trainers' rankings, plus one per prompt that has both a 👍 and a 👎 answer
///   votes:                {"id","messages":[context],"answer","rating":1|-1,"comment","model_version"}
/// </summary>
public sealed class ExportService(IFeedbackRepository feedback, IChatRepository chats, ITrainerRepository trainer)
{
    static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string DetectLang(IEnumerable<string> texts)
    {
        foreach (var text in texts)
            foreach (char c in text)
                if (c is >= '\u4e00' and <= '\u9fff' or >= '\u3400' and <= '\u4dbf') return "zh";
        return "en";
    }

    public sealed record Vote(string Id, List<TurnJson> Messages, string Answer, int Rating, string? Comment, string? ModelVersion);

    /// <summary>Every vote with the conversation it answered (system prompt, then the turns up to the question).</summary>
    public async Task<List<Vote>> VotesAsync(CancellationToken ct)
    {
        var votes = await feedback.ListVotesAsync(ct);
        var result = new List<Vote>();
        foreach (var group in votes.GroupBy(v => v.ChatId))
        {
            var chat = await chats.GetChatByIdAsync(group.Key, ct);
            if (chat is null) continue;
            var all = await chats.GetMessagesAsync(chat.Id, ct);
            foreach (var v in group)
            {
                if (v.Answer.Length == 0) continue;
                var context = new List<TurnJson>();
                if (!string.IsNullOrWhiteSpace(chat.SystemPrompt)) context.Add(new TurnJson("system", chat.SystemPrompt));
                context.AddRange(ChatViews.Path(all, v.ParentId).Where(m => m.Content.Length > 0).Select(m => new TurnJson(m.Role, m.Content)));
                if (context.Count == 0 || context[^1].Role != "user") continue;
                result.Add(new Vote("vote_" + v.MessageId, context, v.Answer, v.Rating, v.Comment, v.ModelVersion));
            }
        }
        return result;
    }

    public async Task WriteVotesAsync(Stream output, CancellationToken ct)
    {
        foreach (var v in await VotesAsync(ct))
            await WriteLineAsync(output, new { id = v.Id, messages = v.Messages, answer = v.Answer, rating = v.Rating, comment = v.Comment ?? "", model_version = v.ModelVersion ?? "" }, ct);
    }

    public async Task WriteDemonstrationsAsync(Stream output, CancellationToken ct)
    {
        foreach (var d in await trainer.ListDemonstrationsAsync(null, ct))
        {
            var messages = JsonSerializer.Deserialize<List<TurnJson>>(d.MessagesJson) ?? [];
            await WriteLineAsync(output, new { id = d.Id, task = "demonstration", lang = d.Lang, messages }, ct);
        }
    }

    public async Task WriteRankingsAsync(Stream output, CancellationToken ct)
    {
        foreach (var r in await trainer.ListRankingsAsync(null, ct))
        {
            var messages = JsonSerializer.Deserialize<List<TurnJson>>(r.MessagesJson) ?? [];
            var answers = JsonSerializer.Deserialize<List<string>>(r.AnswersJson) ?? [];
            await WriteLineAsync(output, new { id = r.Id, task = "ranking", lang = r.Lang, messages, answers, source = "server" }, ct);
        }
        // Votes become rankings where one prompt has answers on both sides: every 👍 answer ranks above every 👎 one.
        var votes = await VotesAsync(ct);
        foreach (var prompt in votes.GroupBy(v => JsonSerializer.Serialize(v.Messages)))
        {
            var up = prompt.Where(v => v.Rating > 0).Select(v => v.Answer).Distinct().ToList();
            var down = prompt.Where(v => v.Rating < 0).Select(v => v.Answer).Distinct().Except(up).ToList();
            if (up.Count == 0 || down.Count == 0) continue;
            var messages = prompt.First().Messages;
            string id = "votes_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(",", prompt.Select(v => v.Id).Order()))))[..16];
            await WriteLineAsync(output, new
            {
                id, task = "feedback", lang = DetectLang(messages.Select(m => m.Content).Concat(up)), messages, answers = up.Concat(down).ToList(), source = "server",
            }, ct);
        }
    }

    static async Task WriteLineAsync(Stream output, object row, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(row, Json) + "\n");
        await output.WriteAsync(bytes, ct);
    }
}
