using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ChatForge.Data.Text;

namespace ChatForge.Data.Dialogues;

/// <summary>
/// Decides whether a model's answer gives one of the accepted answers. Both sides are normalised: Unicode NFKC (full-width
/// → half-width), lower case, traditional → simplified when a converter is given, punctuation and symbols removed,
/// whitespace collapsed (and dropped next to CJK). A match is then: equal; equal after removing an "the answer is X" /
/// "答案是X" framing; or the accepted answer appearing as a whole word (a substring for CJK) in a short answer
/// (at most 3× the accepted length + 40 characters, so a list of guesses does not pass).
/// </summary>
public static partial class AnswerMatcher
{
    public static bool IsMatch(string modelAnswer, IEnumerable<string> acceptedAnswers, ChineseConverter? t2s = null)
    {
        var model = Normalize(modelAnswer, t2s);
        if (model.Length == 0) return false;
        var unframed = Normalize(Framing().Replace(modelAnswer.Trim(), ""), t2s);
        foreach (var accepted in acceptedAnswers)
        {
            var a = Normalize(accepted, t2s);
            if (a.Length == 0) continue;
            if (model == a || unframed == a) return true;
            if (model.Length <= 3 * a.Length + 40 && ContainsWhole(model, a)) return true;
        }
        return false;
    }

    /// <summary>Whether the answer declines ("I don't know", "我不知道") rather than stating something.</summary>
    public static bool IsRefusal(string answer) => Refusal().IsMatch(Normalize(answer, null));

    [GeneratedRegex(@"^(the answer is|answer is|answer|it is|it's|that is|that's|this is|i think it is|i think|答案是|答案|答|是|应该是|我认为是)[\s:：,，]*", RegexOptions.IgnoreCase)]
    private static partial Regex Framing();

    [GeneratedRegex(@"不知道|不清楚|不确定|不认识|不认得|无法回答|没有相关|不了解|不在我的知识|i dont know|i do not know|dont know|not sure|no information|i cannot answer|i cant answer|outside (of )?my knowledge|do not have (any )?information|dont have (any )?information")]
    private static partial Regex Refusal();

    public static string Normalize(string s, ChineseConverter? t2s)
    {
        s = s.Normalize(NormalizationForm.FormKC).ToLowerInvariant();
        if (t2s is not null) s = t2s.Convert(s);
        var sb = new StringBuilder(s.Length);
        foreach (var c in s)
        {
            var cat = CharUnicodeInfo.GetUnicodeCategory(c);
            if (c is '\'' or '’') continue; // "don't" = "dont"
            bool drop = cat is UnicodeCategory.OtherPunctuation or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
                or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.DashPunctuation
                or UnicodeCategory.ConnectorPunctuation or UnicodeCategory.MathSymbol or UnicodeCategory.OtherSymbol or UnicodeCategory.ModifierSymbol;
            if (c == '-' || c == '+' || c == '=') drop = false; // arithmetic answers keep their signs
            if (drop) { sb.Append(' '); continue; }
            sb.Append(char.IsWhiteSpace(c) ? ' ' : c);
        }
        var collapsed = Regex.Replace(sb.ToString(), @"\s+", " ").Trim();
        // Spaces next to CJK characters carry no meaning ("巴 黎" = "巴黎").
        return Regex.Replace(collapsed, @"(?<=[\u3400-\u9fff]) | (?=[\u3400-\u9fff])", "");
    }

    /// <summary>Letters and digits of alphabetic scripts: a CJK character next to "Paris" is a boundary ("首都是Paris").</summary>
    static bool IsWordChar(char c) => char.IsLetterOrDigit(c) && c < '\u2E80';

    static bool ContainsWhole(string text, string needle)
    {
        int i = 0;
        while ((i = text.IndexOf(needle, i, StringComparison.Ordinal)) >= 0)
        {
            bool cjkStart = needle[0] >= '\u3400', cjkEnd = needle[^1] >= '\u3400';
            bool leftOk = cjkStart || i == 0 || !IsWordChar(text[i - 1]);
            int end = i + needle.Length;
            bool rightOk = cjkEnd || end == text.Length || !IsWordChar(text[end]);
            if (leftOk && rightOk) return true;
            i++;
        }
        return false;
    }
}
