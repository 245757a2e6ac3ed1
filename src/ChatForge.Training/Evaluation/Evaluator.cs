using ChatForge.Data.Dialogues;
using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;

namespace ChatForge.Training.Evaluation;

public sealed record TaskScore(string Task, string Lang, int Items, int Correct)
{
    public double Accuracy => Items == 0 ? 0 : (double)Correct / Items;
}

/// <summary>One evaluated question: what the model said and how it was judged.</summary>
public sealed record EvalAnswer(EvalRecord Item, string Answer, bool Correct, bool Refused);

/// <summary>Answer accuracy on held-out prompts and honesty on facts absent from pretraining.</summary>
public sealed record AnswerReport
{
    /// <summary>Accuracy per task and language on the "heldout" set (facts the model saw in pretraining).</summary>
    public required IReadOnlyList<TaskScore> PerTask { get; init; }
    public required double HeldOutAccuracy { get; init; }
    /// <summary>Share of "absent" questions answered with "I don't know" rather than an invention.</summary>
    public required double AbsentRefusalRate { get; init; }
    /// <summary>Share of "heldout" questions the model wrongly declined.</summary>
    public required double HeldOutRefusalRate { get; init; }
    public required double MeanAnswerTokens { get; init; }
    public required IReadOnlyList<EvalAnswer> Answers { get; init; }
}

/// <summary>
/// Asks the model every evaluation question with greedy decoding (batched through the engine's KV-cache
/// generator) and judges answers with <see cref="AnswerCheck"/> (the data pipeline's normalising matcher; final number for arithmetic).
/// </summary>
public static class Evaluator
{
    public static IReadOnlyList<(string Text, int Tokens)> Answer(ParameterBuffer model, IChatTokenizer tokenizer,
        IReadOnlyList<IReadOnlyList<ChatMessage>> conversations, int maxNewTokens, int batch = 16)
    {
        var inference = new InferenceModel(model, WeightFormat.F32);
        var answers = new List<(string, int)>(conversations.Count);
        for (int start = 0; start < conversations.Count; start += batch)
        {
            var prompts = conversations.Skip(start).Take(batch)
                .Select(c => (IReadOnlyList<int>)TruncateLeft(tokenizer.RenderChat(c, addGenerationPrompt: true).Ids, model.Layout.Config.ContextLength - maxNewTokens))
                .ToList();
            var generated = Generator.GenerateBatch(inference, prompts, maxNewTokens, SamplingOptions.Greedy, tokenizer.StopTokenIds);
            answers.AddRange(generated.Select(g => (tokenizer.Decode(g.Tokens.ToArray()).Trim(), g.Tokens.Count)));
        }
        return answers;
    }

    /// <summary>Keeps the end of an over-long prompt: the question being asked is at the end.</summary>
    static int[] TruncateLeft(int[] ids, int max) => ids.Length <= max ? ids : ids[^Math.Max(1, max)..];

    public static AnswerReport Run(ParameterBuffer model, IChatTokenizer tokenizer, IReadOnlyList<EvalRecord> items, int maxNewTokens = 64)
    {
        var replies = Answer(model, tokenizer, items.Select(i => i.Messages.ToChat()).ToList(), maxNewTokens);
        var answers = items.Select((item, k) =>
        {
            string text = replies[k].Text;
            bool refused = AnswerMatcher.IsRefusal(text);
            bool correct = item.Set == "absent" ? refused : AnswerCheck.IsCorrect(text, item.Answers);
            return new EvalAnswer(item, text, correct, refused);
        }).ToList();

        var heldOut = answers.Where(a => a.Item.Set != "absent").ToList();
        var absent = answers.Where(a => a.Item.Set == "absent").ToList();
        var perTask = heldOut.GroupBy(a => (a.Item.Task, a.Item.Lang)).OrderBy(g => g.Key.Task).ThenBy(g => g.Key.Lang)
            .Select(g => new TaskScore(g.Key.Task, g.Key.Lang, g.Count(), g.Count(a => a.Correct))).ToList();
        return new AnswerReport
        {
            PerTask = perTask,
            HeldOutAccuracy = heldOut.Count == 0 ? 0 : heldOut.Average(a => a.Correct ? 1.0 : 0.0),
            AbsentRefusalRate = absent.Count == 0 ? 0 : absent.Average(a => a.Refused ? 1.0 : 0.0),
            HeldOutRefusalRate = heldOut.Count == 0 ? 0 : heldOut.Average(a => a.Refused ? 1.0 : 0.0),
            MeanAnswerTokens = replies.Count == 0 ? 0 : replies.Average(r => r.Tokens),
            Answers = answers,
        };
    }
}
