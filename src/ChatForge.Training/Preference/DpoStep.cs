using ChatForge.Engine.Model;
using ChatForge.Training.Alignment;

namespace ChatForge.Training.Preference;

/// <summary>
/// One DPO pair's forward and backward on the policy. The reference log-probabilities come from the caller
/// (the reference is frozen, so DpoTrainer computes each pair's once and caches them).
/// The loss depends on the policy's own log-probabilities, so the pair is evaluated first and the exact
/// per-token gradient −dL/dlogπ is then applied as the row weights of a language-model backward pass.
/// </summary>
public static class DpoStep
{
    public static DpoLoss.Result Run(Transformer policy, AnswerSequence chosen, AnswerSequence rejected,
        float referenceChosen, float referenceRejected, float beta, float weight, int padId)
    {
        var pair = new[] { chosen, rejected };
        var policySums = AnswerSequences.LogProbSums(policy, pair, padId);
        var result = DpoLoss.ForwardBackward(policySums[0], policySums[1], referenceChosen, referenceRejected, beta);

        var batch = AnswerSequences.Batch(pair, padId, policy.Config.ContextLength, out var targets);
        // LanguageModelLoss minimises Σ w·(−log p): a row weight of −g gives gradient g on log p.
        var rowWeights = new float[targets.Length];
        for (int i = 0; i < targets.Length; i++)
            if (targets[i] >= 0) rowWeights[i] = -weight * (i < batch.T ? result.DChosen : result.DRejected);
        policy.LanguageModelLoss(batch.Tokens, targets, batch.Rows, batch.T, rowWeights);
        return result;
    }
}
