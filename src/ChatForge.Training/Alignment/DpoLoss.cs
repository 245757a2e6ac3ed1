namespace ChatForge.Training.Alignment;

/// <summary>
/// Direct Preference Optimization (Rafailov et al. 2023) for one preference pair. Inputs are summed
/// log-probabilities of each answer's tokens under the policy and the frozen reference:
/// loss = −log σ(β·[(π_c − ref_c) − (π_r − ref_r)]). The implicit rewards β·(π − ref) are reported too.
/// </summary>
public static class DpoLoss
{
    public readonly record struct Result(float Loss, float DChosen, float DRejected, float ChosenReward, float RejectedReward)
    {
        public bool Correct => ChosenReward > RejectedReward;
    }

    public static Result ForwardBackward(float policyChosen, float policyRejected, float referenceChosen, float referenceRejected, float beta)
    {
        if (!(beta > 0)) throw new ArgumentOutOfRangeException(nameof(beta), beta, "DPO beta must be positive.");
        double chosenReward = beta * ((double)policyChosen - referenceChosen);
        double rejectedReward = beta * ((double)policyRejected - referenceRejected);
        double margin = chosenReward - rejectedReward;
        double loss = RewardModelLoss.Softplus(-margin);
        double g = -RewardModelLoss.Sigmoid(-margin) * beta; // d loss / d policyChosen; the rejected side is its negative
        return new Result((float)loss, (float)g, (float)-g, (float)chosenReward, (float)rejectedReward);
    }
}
