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
/// </summary>
public sealed class VerifiableReward(IRewardFunction inner, IChatTokenizer tokenizer, float bonus = 1f) : IRewardFunction
{
    public float Bonus => bonus;
    public IReadOnlyList<IReadOnlyList<string>?> Gold { get; set; } = [];

    public float[] Score(IReadOnlyList<Rollout> rollouts)
    {
        var scores = inner.Score(rollouts);
        for (int i = 0; i < rollouts.Count; i++)
        {
            var r = rollouts[i];
            if (r.PromptIndex >= Gold.Count || Gold[r.PromptIndex] is not { Count: > 0 } gold) continue;
            scores[i] += IsCorrect(r, gold) ? bonus : -bonus;
        }
        return scores;
    }

    bool IsCorrect(Rollout r, IReadOnlyList<string> gold)
    {
        var answer = r.Tokens.AsSpan(r.PromptLength).ToArray().Where(t => !tokenizer.StopTokenIds.Contains(t)).ToArray();
        string text = tokenizer.Decode(answer).Trim();
        return Evaluation.AnswerCheck.IsCorrect(text, gold);
    }
}
