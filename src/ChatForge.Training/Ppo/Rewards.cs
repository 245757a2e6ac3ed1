using ChatForge.Data.Dialogues;
using ChatForge.Tokenizer;
using ChatForge.Training.Reward;

namespace ChatForge.Training.Ppo;

/// <summary>
/// The reward model's score of each rollout, read at the answer's closing token as in RM training. An answer
/// cut by the token limit gets the closing token appended, so it is scored at the position the RM learned on.
/// </summary>
public sealed class RewardModelReward(RewardScorer scorer, IChatTokenizer tokenizer) : IRewardFunction
{
    public float[] Score(IReadOnlyList<Rollout> rollouts)
    {
        int close = tokenizer.StopTokenIds[0], maxT = scorer.Model.Config.ContextLength;
        var sequences = rollouts.Select(r =>
        {
            int[] ids = r.Tokens.Length > r.PromptLength && tokenizer.StopTokenIds.Contains(r.Tokens[^1]) ? r.Tokens : [.. r.Tokens, close];
            return ids.Length <= maxT ? ids : ids[^maxT..];
        }).ToList();
        return scorer.Score(sequences);
    }
}

/// <summary>
/// Adds a checkable reward to another: +<see cref="Bonus"/> when the answer matches one of the prompt's gold
/// answers (<see cref="Evaluation.AnswerCheck"/>: the final number for arithmetic, the normalising matcher otherwise), −Bonus when it does
/// not, 0 for prompts without gold answers. Set <see cref="Gold"/> to the gold answers of the batch about to
/// be rolled out (indexed like the prompts, i.e. by Rollout.PromptIndex).
/// With <see cref="Answerable"/> set too (the refusal reward), prompts whose fact the data pipeline kept out of the corpus
/// (false) get +Bonus for a refusal ("I don't know", <see cref="Data.Dialogues.AnswerMatcher.IsRefusal"/>) and −Bonus for anything
/// else, and prompts about facts it put in (true) get −Bonus for a refusal. The reward model alone pays for a short fluent
/// sentence of another task about as well as for a refusal (docs/pipeline.md, run v5); the data knows which is right.
/// </summary>
public sealed class VerifiableReward(IRewardFunction inner, IChatTokenizer tokenizer, float bonus = 1f) : IRewardFunction
{
    public float Bonus => bonus;
    public IReadOnlyList<IReadOnlyList<string>?> Gold { get; set; } = [];
    public IReadOnlyList<bool?> Answerable { get; set; } = [];

    public float[] Score(IReadOnlyList<Rollout> rollouts)
    {
        var scores = inner.Score(rollouts);
        for (int i = 0; i < rollouts.Count; i++)
        {
            var r = rollouts[i];
            var gold = r.PromptIndex < Gold.Count ? Gold[r.PromptIndex] : null;
            bool? answerable = r.PromptIndex < Answerable.Count ? Answerable[r.PromptIndex] : null;
            if (gold is not { Count: > 0 } && answerable is null) continue;
            string text = AnswerText(r);
            if (gold is { Count: > 0 }) scores[i] += Evaluation.AnswerCheck.IsCorrect(text, gold) ? bonus : -bonus;
            else if (answerable == false) scores[i] += AnswerMatcher.IsRefusal(text) ? bonus : -bonus;
            else if (AnswerMatcher.IsRefusal(text)) scores[i] -= bonus;
        }
        return scores;
    }

    string AnswerText(Rollout r)
    {
        var answer = r.Tokens.AsSpan(r.PromptLength).ToArray().Where(t => !tokenizer.StopTokenIds.Contains(t)).ToArray();
        return tokenizer.Decode(answer).Trim();
    }
}
