using ChatForge.Data.Dialogues;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;

namespace ChatForge.Training.Evaluation;

/// <summary>Follow-ups of one task and language (Task "all": every task of the language), judged with and without the earlier turns.</summary>
public sealed record FollowupScore(string Task, string Lang, int Items, int Correct, int CorrectWithoutContext)
{
    public double Accuracy => Items == 0 ? 0 : (double)Correct / Items;
    public double AccuracyWithoutContext => Items == 0 ? 0 : (double)CorrectWithoutContext / Items;
}

/// <summary>One follow-up: the answer in the conversation, and the answer to the same question asked alone.</summary>
public sealed record FollowupAnswer(EvalRecord Item, string Answer, bool Correct, string AnswerWithoutContext, bool CorrectWithoutContext);

/// <summary>
/// Multi-turn follow-ups ("And its capital?" after "What is 法国 in English?"): accuracy with the conversation, and the
/// control, the same follow-up question asked without the earlier turns. Only the context can tell the model what
/// "its" is, so the gap between the two is what the model takes from the context rather than guesses.
/// </summary>
public sealed record FollowupReport
{
    public required int Items { get; init; }
    public required double Accuracy { get; init; }
    public required double AccuracyWithoutContext { get; init; }
    public required IReadOnlyList<FollowupScore> PerLang { get; init; }
    public required IReadOnlyList<FollowupScore> PerTask { get; init; }
    public required IReadOnlyList<FollowupAnswer> Answers { get; init; }
}

public static class FollowupEvaluator
{
    /// <summary>The follow-up alone: system turns kept, every earlier user and assistant turn dropped.</summary>
    public static IReadOnlyList<ChatTurn> WithoutContext(IReadOnlyList<ChatTurn> messages) =>
        [.. messages.Where(m => m.Role == ChatRoles.System), messages[^1]];

    public static FollowupReport Run(ParameterBuffer model, IChatTokenizer tokenizer, IReadOnlyList<EvalRecord> items, int maxNewTokens = 64)
    {
        var conversations = items.Select(i => i.Messages.ToChat())
            .Concat(items.Select(i => WithoutContext(i.Messages).ToChat())).ToList();
        var replies = Evaluator.Answer(model, tokenizer, conversations, maxNewTokens);
        var answers = items.Select((item, k) =>
        {
            string with = replies[k].Text, without = replies[items.Count + k].Text;
            return new FollowupAnswer(item, with, AnswerCheck.IsCorrect(with, item.Answers), without, AnswerCheck.IsCorrect(without, item.Answers));
        }).ToList();
        static FollowupScore Score(string task, string lang, IReadOnlyCollection<FollowupAnswer> a) =>
            new(task, lang, a.Count, a.Count(x => x.Correct), a.Count(x => x.CorrectWithoutContext));
        return new FollowupReport
        {
            Items = answers.Count,
            Accuracy = answers.Count == 0 ? 0 : answers.Average(a => a.Correct ? 1.0 : 0.0),
            AccuracyWithoutContext = answers.Count == 0 ? 0 : answers.Average(a => a.CorrectWithoutContext ? 1.0 : 0.0),
            PerLang = answers.GroupBy(a => a.Item.Lang).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => Score("all", g.Key, g.ToList())).ToList(),
            PerTask = answers.GroupBy(a => (a.Item.Task, a.Item.Lang)).OrderBy(g => g.Key.Task, StringComparer.Ordinal).ThenBy(g => g.Key.Lang, StringComparer.Ordinal)
                .Select(g => Score(g.Key.Task, g.Key.Lang, g.ToList())).ToList(),
            Answers = answers,
        };
    }
}
