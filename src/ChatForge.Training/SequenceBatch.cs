namespace ChatForge.Training;

/// <summary>
/// Several token sequences of different lengths as one [rows, t] batch, right-padded. Attention is causal,
/// so padding after a sequence never changes what its real tokens see.
/// </summary>
public sealed class SequenceBatch
{
    public int Rows { get; }
    public int T { get; }
    public int[] Tokens { get; }
    public int[] Lengths { get; }

    public SequenceBatch(IReadOnlyList<int[]> sequences, int padId, int maxT)
    {
        if (sequences.Count == 0) throw new ArgumentException("A batch needs at least one sequence.", nameof(sequences));
        Rows = sequences.Count;
        T = sequences.Max(s => s.Length);
        if (T == 0) throw new ArgumentException("All sequences are empty.", nameof(sequences));
        if (T > maxT) throw new ArgumentException($"A sequence of {T} tokens exceeds the model's context of {maxT}.", nameof(sequences));
        Tokens = new int[Rows * T];
        Lengths = new int[Rows];
        Array.Fill(Tokens, padId);
        for (int r = 0; r < Rows; r++)
        {
            sequences[r].CopyTo(Tokens, r * T);
            Lengths[r] = sequences[r].Length;
        }
    }

    /// <summary>Flat row index (into [rows·t]) of sequence r's last token.</summary>
    public int LastRow(int r) => r * T + Lengths[r] - 1;

    /// <summary>Next-token targets: for row r, targets[j] = tokens[j+1] where <paramref name="isTarget"/>(r, j+1) holds, else −1.</summary>
    public int[] Targets(Func<int, int, bool> isTarget)
    {
        var targets = new int[Rows * T];
        Array.Fill(targets, -1);
        for (int r = 0; r < Rows; r++)
            for (int j = 0; j + 1 < Lengths[r]; j++)
                if (isTarget(r, j + 1)) targets[r * T + j] = Tokens[r * T + j + 1];
        return targets;
    }
}
