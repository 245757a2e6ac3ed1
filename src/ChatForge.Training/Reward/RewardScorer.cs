using ChatForge.Engine.Model;
using ChatForge.Tokenizer;
using ChatForge.Training.Alignment;

namespace ChatForge.Training.Reward;

/// <summary>
/// A reward model: the SFT Transformer with a scalar head (score.weight) read at the answer's final token,
/// the closing &lt;|im_end|&gt; — the one position that has seen the whole prompt and the whole answer.
/// </summary>
public sealed class RewardScorer
{
    readonly Transformer _model;
    readonly IChatTokenizer _tokenizer;
    readonly int _padId;

    public Transformer Model => _model;

    public RewardScorer(Transformer model, IChatTokenizer tokenizer)
    {
        if (model.Layout.Score is null) throw new ArgumentException("A reward model needs a config with score_head = true.", nameof(model));
        _model = model;
        _tokenizer = tokenizer;
        _padId = tokenizer.StopTokenIds[0];
    }

    /// <summary>The conversation followed by the answer as a closed assistant turn, cut right after its closing token.</summary>
    public int[] Render(IReadOnlyList<ChatMessage> conversation, string answer)
    {
        var messages = conversation.Append(new ChatMessage(ChatRoles.Assistant, answer)).ToList();
        var ids = _tokenizer.RenderChat(messages, addGenerationPrompt: false).Ids;
        int end = Array.FindLastIndex(ids, id => _tokenizer.StopTokenIds.Contains(id));
        if (end < 0) throw new InvalidOperationException("The chat template produced no closing token for the answer.");
        int maxT = _model.Config.ContextLength;
        // Too long for the context: keep the end, which holds the answer and its closing token.
        return end + 1 <= maxT ? ids[..(end + 1)] : ids[(end + 1 - maxT)..(end + 1)];
    }

    /// <summary>Rewards of rendered sequences (forward only).</summary>
    public float[] Score(IReadOnlyList<int[]> sequences)
    {
        var batch = new SequenceBatch(sequences, _padId, _model.Config.ContextLength);
        var hidden = _model.ForwardHidden(batch.Tokens, batch.Rows, batch.T);
        var rewards = new float[batch.Rows];
        var w = _model.Parameters[_model.Layout.Score!];
        int d = _model.Config.HiddenSize;
        for (int r = 0; r < batch.Rows; r++) rewards[r] = Dot(hidden.Slice(batch.LastRow(r) * d, d), w);
        return rewards;
    }

    /// <summary>
    /// One ranked group's forward and backward: InstructGPT's loss over all C(K,2) pairs, scaled by
    /// <paramref name="weight"/> (1/groups per step for a mean). Gradients accumulate into the model.
    /// </summary>
    public (float Loss, float PairAccuracy, float[] Rewards) RankingStep(IReadOnlyList<int[]> answersBestFirst, float weight)
    {
        var batch = new SequenceBatch(answersBestFirst, _padId, _model.Config.ContextLength);
        var hidden = _model.ForwardHidden(batch.Tokens, batch.Rows, batch.T);
        int d = _model.Config.HiddenSize;
        var w = _model.Parameters[_model.Layout.Score!];
        var rewards = new float[batch.Rows];
        for (int r = 0; r < batch.Rows; r++) rewards[r] = Dot(hidden.Slice(batch.LastRow(r) * d, d), w);

        var dRewards = new float[batch.Rows];
        var (loss, accuracy) = RewardModelLoss.ForwardBackward(rewards, dRewards);

        // Only the last row of each answer feeds the reward: elsewhere dHidden is zero.
        var dHidden = new float[batch.Rows * batch.T * d];
        var dW = _model.Grads[_model.Layout.Score!];
        for (int r = 0; r < batch.Rows; r++)
        {
            float g = dRewards[r] * weight;
            var h = hidden.Slice(batch.LastRow(r) * d, d);
            var dh = dHidden.AsSpan(batch.LastRow(r) * d, d);
            for (int j = 0; j < d; j++)
            {
                dh[j] = g * w[j];
                dW[j] += g * h[j];
            }
        }
        _model.BackwardHidden(dHidden);
        return (loss * weight, accuracy, rewards);
    }

    static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);

    /// <summary>
    /// A reward model initialised from an SFT model: every tensor copied, plus a zero score head (so every
    /// answer starts with reward 0 and the ranking loss alone shapes it).
    /// </summary>
    public static ParameterBuffer FromSft(ParameterBuffer sft)
    {
        var config = sft.Layout.Config with { ScoreHead = true };
        var rm = new ParameterBuffer(new ParameterLayout(config));
        foreach (var slot in sft.Layout.Tensors) sft[slot].CopyTo(rm[slot.Name]);
        return rm;
    }
}
