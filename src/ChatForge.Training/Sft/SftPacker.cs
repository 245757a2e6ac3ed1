using ChatForge.Data.Dialogues;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;

namespace ChatForge.Training.Sft;

/// <summary>A dialogue as next-token pairs: Targets[j] is the token after Inputs[j], or −1 where no loss applies.</summary>
public sealed record SftSequence(int[] Inputs, int[] Targets)
{
    public int Length => Inputs.Length;
    public int LossTokens => Targets.Count(t => t >= 0);
}

/// <summary>
/// Turns dialogues into fixed-size training rows. Each dialogue is rendered with the chat template; only the
/// assistant's tokens (its words and the closing &lt;|im_end|&gt;) are targets. Short dialogues are packed
/// several to a row of T tokens, each starting at its own &lt;|im_start|&gt; so the model sees where a new
/// conversation begins; the rest of a row is padding with no loss. A dialogue longer than T keeps its first
/// T tokens (its later turns are lost, and the count of such dialogues is reported).
/// </summary>
public static class SftPacker
{
    public static SftSequence Render(SftRecord record, IChatTokenizer tokenizer)
    {
        var rendered = tokenizer.RenderChat(record.Messages.ToChat(), addGenerationPrompt: false);
        int n = rendered.Ids.Length - 1;
        var inputs = rendered.Ids[..n];
        var targets = new int[n];
        for (int j = 0; j < n; j++) targets[j] = rendered.Mask[j + 1] ? rendered.Ids[j + 1] : -1;
        return new SftSequence(inputs, targets);
    }

    /// <summary>Packs sequences in the given order (shuffle before for a new epoch) into rows of length t.</summary>
    /// <returns>Inputs and targets [rows, t] and how many sequences had to be truncated.</returns>
    public static (int[] Inputs, int[] Targets, int Rows, int Truncated) Pack(IReadOnlyList<SftSequence> sequences, int t, int padId)
    {
        if (t < 2) throw new ArgumentOutOfRangeException(nameof(t), t, "Rows need at least 2 tokens.");
        var rows = new List<(List<int> Inputs, List<int> Targets)>();
        (List<int> Inputs, List<int> Targets)? current = null;
        int truncated = 0;
        foreach (var s in sequences)
        {
            int length = s.Length;
            if (length > t) { truncated++; length = t; }
            if (current is null || current.Value.Inputs.Count + length > t)
            {
                current = (new List<int>(t), new List<int>(t));
                rows.Add(current.Value);
            }
            current.Value.Inputs.AddRange(s.Inputs.AsSpan(0, length));
            current.Value.Targets.AddRange(s.Targets.AsSpan(0, length));
        }

        var inputs = new int[rows.Count * t];
        var targets = new int[rows.Count * t];
        Array.Fill(inputs, padId);
        Array.Fill(targets, -1);
        for (int r = 0; r < rows.Count; r++)
        {
            rows[r].Inputs.CopyTo(inputs, r * t);
            rows[r].Targets.CopyTo(targets, r * t);
        }
        return (inputs, targets, rows.Count, truncated);
    }
}
