using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;
using ChatForge.Training.Alignment;
using ChatForge.Training.Preference;

namespace ChatForge.Training.Reward;

/// <summary>
/// A reward model: the SFT Transformer with a scalar head (score.weight) read at the answer's final token,
/// the closing &lt;|im_end|&gt; — the one position that has seen the whole prompt and the whole answer.
/// With <see cref="ModelConfig.ScoreLikelihood"/> the reward also adds the answer's mean log-probability per token
/// (its words and closing token) under the model's own LM head. The SFT model's likelihood already puts a right answer
/// above a same-topic wrong one four times in five, while a head on the last position, trained by the ranking loss,
/// barely learns to (docs/pipeline.md): the last position has no direct view of how surprising the answer's earlier
/// tokens were. The ranking loss trains both paths.
/// </summary>
public sealed class RewardScorer
{
    readonly Transformer _model;
    readonly IChatTokenizer _tokenizer;
    readonly int _padId;
    readonly int[] _answerHeader;

    public Transformer Model => _model;

    public RewardScorer(Transformer model, IChatTokenizer tokenizer)
    {
        if (model.Layout.Score is null) throw new ArgumentException("A reward model needs a config with score_head = true.", nameof(model));
        _model = model;
        _tokenizer = tokenizer;
        _padId = tokenizer.StopTokenIds[0];
        // The ids that open an assistant turn: the answer starts after their last occurrence.
        var user = new List<ChatMessage> { new(ChatRoles.User, "?") };
        var open = tokenizer.RenderChat(user, addGenerationPrompt: true).Ids;
        _answerHeader = open[tokenizer.RenderChat(user, addGenerationPrompt: false).Ids.Length..];
        if (_answerHeader.Length == 0) throw new InvalidOperationException("The chat template has no assistant-turn opening.");
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
        return Rewards(batch, _model.ForwardHidden(batch.Tokens, batch.Rows, batch.T), out _, out _);
    }

    /// <summary>
    /// One ranked group's forward and backward: InstructGPT's loss over all C(K,2) pairs, scaled by
    /// <paramref name="weight"/> (1/groups per step for a mean). Gradients accumulate into the model.
    /// </summary>
    public (float Loss, float PairAccuracy, float[] Rewards) RankingStep(IReadOnlyList<int[]> answersBestFirst, float weight)
    {
        var batch = new SequenceBatch(answersBestFirst, _padId, _model.Config.ContextLength);
        var hidden = _model.ForwardHidden(batch.Tokens, batch.Rows, batch.T);
        var rewards = Rewards(batch, hidden, out var targets, out var counts);
        int n = batch.Rows * batch.T, d = _model.Config.HiddenSize;

        var dRewards = new float[batch.Rows];
        var (loss, accuracy) = RewardModelLoss.ForwardBackward(rewards, dRewards);

        var dHidden = new float[n * d];
        if (targets is not null)
        {
            // d loss / d log p(token) = dRewards[r] / count[r]; the LM loss is Σ rowWeights·(−log p), hence the sign.
            // Writes dHidden at the answer positions (0 elsewhere) and accumulates the LM head's gradient.
            var rowWeights = new float[n];
            for (int i = 0; i < n; i++)
                if (targets[i] >= 0) rowWeights[i] = -dRewards[i / batch.T] * weight / counts![i / batch.T];
            LmHeadLoss.ForwardBackward(hidden, _model.Parameters[_model.Layout.LmHead], targets, rowWeights, new float[n], dHidden,
                _model.Grads[_model.Layout.LmHead], n, d, _model.Config.VocabSize);
        }
        // The head reads only the last row of each answer.
        var w = _model.Parameters[_model.Layout.Score!];
        var dW = _model.Grads[_model.Layout.Score!];
        for (int r = 0; r < batch.Rows; r++)
        {
            float g = dRewards[r] * weight;
            var h = hidden.Slice(batch.LastRow(r) * d, d);
            var dh = dHidden.AsSpan(batch.LastRow(r) * d, d);
            for (int j = 0; j < d; j++)
            {
                dh[j] += g * w[j];
                dW[j] += g * h[j];
            }
        }
        _model.BackwardHidden(dHidden);
        return (loss * weight, accuracy, rewards);
    }

    /// <summary>
    /// The head's value at each sequence's last token, plus (ScoreLikelihood) the mean log p per answer token — the tokens
    /// after the last assistant-turn opening, closing token included — read off the same final hidden states.
    /// </summary>
    float[] Rewards(SequenceBatch batch, ReadOnlySpan<float> hidden, out int[]? targets, out int[]? counts)
    {
        targets = null;
        counts = null;
        int d = _model.Config.HiddenSize;
        var w = _model.Parameters[_model.Layout.Score!];
        var rewards = new float[batch.Rows];
        for (int r = 0; r < batch.Rows; r++) rewards[r] = Dot(hidden.Slice(batch.LastRow(r) * d, d), w);
        if (!_model.Config.ScoreLikelihood) return rewards;

        var starts = new int[batch.Rows];
        for (int r = 0; r < batch.Rows; r++) starts[r] = AnswerStart(batch.Tokens.AsSpan(r * batch.T, batch.Lengths[r]));
        targets = batch.Targets((r, j) => j >= starts[r]);
        var logProbs = new float[batch.Rows * batch.T];
        LmHeadLoss.Forward(hidden, _model.Parameters[_model.Layout.LmHead], targets, logProbs, default, batch.Rows * batch.T, d, _model.Config.VocabSize);
        var sums = AnswerSequences.SumPerRow(logProbs, batch);
        counts = new int[batch.Rows];
        for (int r = 0; r < batch.Rows; r++)
        {
            counts[r] = batch.Lengths[r] - starts[r]; // ≥ 1: AnswerStart rejects an empty answer
            rewards[r] += sums[r] / counts[r];
        }
        return rewards;
    }

    int AnswerStart(ReadOnlySpan<int> ids)
    {
        int at = ids.LastIndexOf(_answerHeader);
        if (at < 0) throw new InvalidOperationException("A reward-model sequence has no assistant turn.");
        if (at + _answerHeader.Length >= ids.Length) throw new InvalidOperationException("A reward-model sequence has an empty answer.");
        return at + _answerHeader.Length;
    }

    static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);

    /// <summary>
    /// A reward model initialised from an SFT model: every tensor copied, plus a zero score head (so every
    /// answer starts with reward 0 and the ranking loss alone shapes it).
    /// </summary>
    public static ParameterBuffer FromSft(ParameterBuffer sft, bool likelihood = false)
    {
        var config = sft.Layout.Config with { ScoreHead = true, ScoreLikelihood = likelihood };
        var rm = new ParameterBuffer(new ParameterLayout(config));
        foreach (var slot in sft.Layout.Tensors) sft[slot].CopyTo(rm[slot.Name]);
        return rm;
    }
}
