using ChatForge.Engine.Inference;

namespace ChatForge.Training.Ppo;

/// <summary>
/// One sampled answer and everything PPO needs about it, per answer token t (the action at position
/// PromptLength + t): the sampling policy's and the reference's log-probabilities, the critic's value of the
/// state before it, the shaped reward, and the advantage and return from GAE.
/// </summary>
public sealed class Rollout
{
    public required int PromptIndex { get; init; }
    /// <summary>Prompt followed by the answer (including its closing token when the policy emitted one).</summary>
    public required int[] Tokens { get; init; }
    public required int PromptLength { get; init; }
    public required FinishReason Finish { get; init; }
    public int AnswerLength => Tokens.Length - PromptLength;

    public float Score { get; set; }
    public float[] LogProbs { get; set; } = [];
    public float[] ReferenceLogProbs { get; set; } = [];
    public float[] Values { get; set; } = [];
    public float[] Rewards { get; set; } = [];
    public float[] Advantages { get; set; } = [];
    public float[] Returns { get; set; } = [];
}

/// <summary>Scores finished answers: a reward model, a verifiable checker, or both added.</summary>
public interface IRewardFunction
{
    /// <param name="rollouts">Answers to score; Tokens holds prompt + answer.</param>
    float[] Score(IReadOnlyList<Rollout> rollouts);
}
