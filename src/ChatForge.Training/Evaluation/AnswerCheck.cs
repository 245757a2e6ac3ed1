using System.Text.RegularExpressions;
using ChatForge.Data.Dialogues;

namespace ChatForge.Training.Evaluation;

/// <summary>
/// Whether an answer is right, for evaluation and PPO's verifiable reward alike. Numeric gold answers (arithmetic)
/// are judged on the last number the answer states, so "87 × 14 = 1218。", "等于1218。" and "1218" all pass and an
/// answer that only repeats the question's numbers does not; everything else goes through the data pipeline's
/// normalising <see cref="AnswerMatcher"/>. Refusals ("I don't know") are never right.
/// </summary>
public static partial class AnswerCheck
{
    public static bool IsCorrect(string answer, IReadOnlyList<string> accepted)
    {
        if (accepted.Count == 0 || AnswerMatcher.IsRefusal(answer)) return false;
        if (accepted.All(a => Integer().IsMatch(a.Trim())))
            return LastInteger(answer) is { } last && accepted.Any(a => a.Trim() == last);
        return AnswerMatcher.IsMatch(answer, accepted);
    }

    /// <summary>The last integer written in <paramref name="text"/> (with its minus sign), or null.</summary>
    public static string? LastInteger(string text)
    {
        var matches = Number().Matches(text.Replace("−", "-"));
        return matches.Count == 0 ? null : matches[^1].Value.Replace(",", "");
    }

    [GeneratedRegex(@"^-?\d+$")] private static partial Regex Integer();
    // "-" is a sign only right before a digit and not right after one: "= -8" is negative, "542 - 534" and "542-534" subtract.
    [GeneratedRegex(@"(?:(?<!\d)-)?\d[\d,]*")] private static partial Regex Number();
}
