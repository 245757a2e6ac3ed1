using ChatForge.Data.Dialogues;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;

namespace ChatForge.Training.Ppo;

/// <summary>
/// A PPO prompt: the conversation up to (and including) the last user turn, with gold answers when the task is checkable.
/// <paramref name="Answerable"/> says whether the data holds the asked fact at all: false for questions about words the
/// data pipeline kept out of the corpus (the right answer is "I don't know"), true for questions about facts it put in,
/// null when that is not known (chat, greetings, follow-ups, rankings exported by the server).
/// </summary>
public sealed record PpoPrompt(string Id, string Task, IReadOnlyList<ChatMessage> Conversation, IReadOnlyList<string>? Gold, bool? Answerable = null);

public static class PpoPrompts
{
    /// <summary>Tasks whose answers the matcher can check exactly.</summary>
    public static readonly IReadOnlySet<string> VerifiableTasks = new HashSet<string> { "arithmetic", "translate_en_zh", "translate_zh_en" };

    /// <summary>
    /// From SFT dialogues: cut before the last assistant reply. Arithmetic replies give their result as the gold answer
    /// ("87 × 14 = 1218。" → "1218"). Other replies are one phrasing among many ("英文是 one。"), not a gold answer: judging
    /// a rollout by them would punish right answers worded differently. With <paramref name="factGold"/> a record's own
    /// accepted answers (SftRecord.Answers: the short-answer fact tasks) are its gold answers, checked like the held-out
    /// evaluation checks them; the other prompts get the reward model alone.
    /// </summary>
    public static List<PpoPrompt> FromSft(IEnumerable<SftRecord> records, bool factGold = false) => records.Select(r =>
    {
        var chat = r.Messages.ToChat();
        int lastUser = -1;
        for (int i = chat.Count - 1; i >= 0; i--) if (chat[i].Role == ChatRoles.User) { lastUser = i; break; }
        if (lastUser < 0) return null;
        string? reply = lastUser + 1 < chat.Count && chat[lastUser + 1].Role == ChatRoles.Assistant ? chat[lastUser + 1].Content : null;
        IReadOnlyList<string>? gold = reply is not null && r.Task == "arithmetic" && Evaluation.AnswerCheck.LastInteger(reply) is { } result ? [result]
            : factGold && r.Answers is { Count: > 0 } accepted ? accepted : null;
        return new PpoPrompt(r.Id, r.Task, chat.Take(lastUser + 1).ToList(), gold, DialogueBuilder.Answerable(r.Task));
    }).OfType<PpoPrompt>().ToList();

    /// <summary>From rankings (they already end with the user turn); no gold answers.</summary>
    public static List<PpoPrompt> FromRankings(IEnumerable<RankingRecord> records) =>
        records.Select(r => new PpoPrompt(r.Id, r.Task, r.Messages.ToChat(), null, DialogueBuilder.Answerable(r.Task, r.Source))).ToList();

    /// <summary>From evaluation items: the held-out ones carry their accepted answers.</summary>
    public static List<PpoPrompt> FromEval(IEnumerable<EvalRecord> records) =>
        records.Select(r => new PpoPrompt(r.Id, r.Task, r.Messages.ToChat(), r.Set == "heldout" && VerifiableTasks.Contains(r.Task) ? r.Answers : null,
            r.Set == "absent" ? false : r.Set == "heldout" ? true : null)).ToList();

    /// <summary>The prompt tokens with the generation prompt, keeping the end when longer than the room left for the answer.</summary>
    public static int[] Render(IChatTokenizer tokenizer, PpoPrompt prompt, int contextLength, int maxNewTokens)
    {
        var ids = tokenizer.RenderChat(prompt.Conversation, addGenerationPrompt: true).Ids;
        int room = Math.Max(1, contextLength - maxNewTokens - 1);
        return ids.Length <= room ? ids : ids[^room..];
    }
}
