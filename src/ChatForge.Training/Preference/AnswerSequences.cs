using ChatForge.Engine.Model;
using ChatForge.Tokenizer;

namespace ChatForge.Training.Preference;

/// <summary>A conversation followed by one answer, with the positions of the answer's tokens (its words and closing token).</summary>
public sealed record AnswerSequence(int[] Ids, bool[] AnswerMask);

/// <summary>Renders answers to a prompt and sums their log-probabilities under a model.</summary>
public static class AnswerSequences
{
    public static AnswerSequence Render(IChatTokenizer tokenizer, IReadOnlyList<ChatMessage> conversation, string answer, int maxT)
    {
        var messages = conversation.Append(new ChatMessage(ChatRoles.Assistant, answer)).ToList();
        var rendered = tokenizer.RenderChat(messages, addGenerationPrompt: false);
        // Only the final assistant turn is "the answer"; earlier assistant turns are context.
        int end = Array.FindLastIndex(rendered.Mask, m => m) + 1;
        if (end == 0) throw new InvalidOperationException("The chat template marked no answer tokens.");
        int start = end - 1;
        while (start > 0 && rendered.Mask[start - 1]) start--;
        var mask = new bool[end];
        for (int i = start; i < end; i++) mask[i] = true;
        var ids = rendered.Ids[..end];
        if (end <= maxT) return new AnswerSequence(ids, mask);
        // Too long: drop the oldest context, never the answer.
        return new AnswerSequence(ids[(end - maxT)..], mask[(end - maxT)..]);
    }

    public static SequenceBatch Batch(IReadOnlyList<AnswerSequence> sequences, int padId, int maxT, out int[] targets)
    {
        var batch = new SequenceBatch(sequences.Select(s => s.Ids).ToList(), padId, maxT);
        targets = batch.Targets((r, j) => sequences[r].AnswerMask[j]);
        return batch;
    }

    /// <summary>Σ log p(answer tokens) per sequence, without gradients.</summary>
    public static float[] LogProbSums(Transformer model, IReadOnlyList<AnswerSequence> sequences, int padId)
    {
        var batch = Batch(sequences, padId, model.Config.ContextLength, out var targets);
        var logProbs = new float[batch.Rows * batch.T];
        model.Evaluate(batch.Tokens, targets, batch.Rows, batch.T, logProbs);
        return SumPerRow(logProbs, batch);
    }

    public static float[] SumPerRow(ReadOnlySpan<float> logProbs, SequenceBatch batch)
    {
        var sums = new float[batch.Rows];
        for (int r = 0; r < batch.Rows; r++)
        {
            double s = 0;
            foreach (float lp in logProbs.Slice(r * batch.T, batch.T)) s += lp; // ignored rows hold 0
            sums[r] = (float)s;
        }
        return sums;
    }
}
