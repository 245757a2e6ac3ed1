namespace ChatForge.Data.Dialogues;

/// <summary>
/// One question with a checkable answer, in one language. Q fills the prompt templates; A holds the answer-side values
/// (A[Slot] is the raw gold answer). Near holds the answer-side values of a near miss (one character changed, off by one,
/// a neighbouring country's capital…), or null when the task has none. Key names the underlying fact: the same key in
/// both languages, and for every task about it, so a held-out fact is held out everywhere.
/// </summary>
public sealed record Fact(string Task, string Lang, string Key, string Id, Dictionary<string, string> Q, Dictionary<string, string> A, string Slot,
    IReadOnlyList<string> Accepted, Dictionary<string, string>? Near)
{
    public string Gold => A[Slot];

    public Dictionary<string, string> With(Dictionary<string, string> answerValues)
    {
        var d = new Dictionary<string, string>(Q);
        foreach (var (k, v) in answerValues) d[k] = v;
        return d;
    }
}

public sealed record ChatTurn(string Role, string Content);

/// <summary>
/// An SFT dialogue. <paramref name="Answers"/>: the accepted answers to its last user turn where the data pipeline knows
/// them (the short-answer fact tasks of <see cref="DialogueBuilder.EvalTasks"/>), for PPO's verifiable reward; null
/// otherwise (training reads only the messages).
/// </summary>
public sealed record SftRecord(string Id, string Task, string Lang, IReadOnlyList<ChatTurn> Messages, IReadOnlyList<string>? Answers = null);

public sealed record RankingRecord(string Id, string Task, string Lang, IReadOnlyList<ChatTurn> Messages, IReadOnlyList<string> Answers, string Source = "data");

public sealed record EvalRecord(string Id, string Task, string Lang, string Set, IReadOnlyList<ChatTurn> Messages, IReadOnlyList<string> Answers, IReadOnlyList<string>? Fact = null);
