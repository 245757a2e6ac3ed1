using System.Numerics.Tensors;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// Token embedding lookup plus an optional learned position table (GPT-2); with RoPE the position table is empty
/// and positions are ignored. Rows are the flattened batch × time tokens.
/// </summary>
public static class Embedding
{
    /// <summary>output[r] = tokenTable[tokens[r]] + positionTable[positions[r]] (the second term only when positionTable is not empty).</summary>
    public static unsafe void Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions, ReadOnlySpan<float> tokenTable,
        ReadOnlySpan<float> positionTable, Span<float> output, int d)
    {
        const string K = "Embedding.Forward";
        int n = tokens.Length;
        Check(K, tokens, positions, tokenTable.Length, positionTable.Length, output.Length, nameof(output), d);

        if (!RowBlocks.ShouldSplit(n, d))
        {
            ForwardRows(tokens, positions, tokenTable, positionTable, output, d, 0, n);
            return;
        }
        fixed (int* pt = tokens, pp = positions)
        fixed (float* ptt = tokenTable, ppt = positionTable, po = output)
        {
            int* at = pt, ap = pp;
            float* att = ptt, apt = ppt, ao = po;
            int np = positions.Length, ntt = tokenTable.Length, npt = positionTable.Length;
            RowBlocks.For(n, (lo, hi) => ForwardRows(new ReadOnlySpan<int>(at, n), new ReadOnlySpan<int>(ap, np), new ReadOnlySpan<float>(att, ntt),
                new ReadOnlySpan<float>(apt, npt), new Span<float>(ao, n * d), d, lo, hi));
        }
    }

    static void ForwardRows(ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions, ReadOnlySpan<float> tokenTable,
        ReadOnlySpan<float> positionTable, Span<float> output, int d, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            var row = output.Slice(r * d, d);
            var tok = tokenTable.Slice(tokens[r] * d, d);
            if (positionTable.IsEmpty) tok.CopyTo(row);
            else TensorPrimitives.Add(tok, positionTable.Slice(positions[r] * d, d), row);
        }
    }

    /// <summary>
    /// Scatter-adds dOutput rows into the table gradients: dTokenTable[tokens[r]] += dOutput[r] and, when
    /// dPositionTable is not empty, dPositionTable[positions[r]] += dOutput[r]. ACCUMULATES (tables are parameters;
    /// with tied embeddings the LM head's gradient is already in dTokenTable).
    /// </summary>
    public static unsafe void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions,
        Span<float> dTokenTable, Span<float> dPositionTable, int d)
    {
        const string K = "Embedding.Backward";
        int n = tokens.Length;
        Check(K, tokens, positions, dTokenTable.Length, dPositionTable.Length, dOutput.Length, nameof(dOutput), d);

        // Repeated tokens hit the same table row, so threads split the columns, never the rows.
        if (!RowBlocks.ShouldSplit(n, d))
        {
            BackwardColumns(dOutput, tokens, positions, dTokenTable, dPositionTable, d, 0, d);
            return;
        }
        fixed (int* pt = tokens, pp = positions)
        fixed (float* pdo = dOutput, pdt = dTokenTable, pdp = dPositionTable)
        {
            int* at = pt, ap = pp;
            float* ado = pdo, adt = pdt, adp = pdp;
            int np = positions.Length, ndt = dTokenTable.Length, ndp = dPositionTable.Length;
            RowBlocks.ForAligned(d, 64, (lo, hi) => BackwardColumns(new ReadOnlySpan<float>(ado, n * d), new ReadOnlySpan<int>(at, n),
                new ReadOnlySpan<int>(ap, np), new Span<float>(adt, ndt), new Span<float>(adp, ndp), d, lo, hi));
        }
    }

    static void BackwardColumns(ReadOnlySpan<float> dOutput, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions,
        Span<float> dTokenTable, Span<float> dPositionTable, int d, int j0, int j1)
    {
        int w = j1 - j0;
        for (int r = 0; r < tokens.Length; r++)
        {
            var g = dOutput.Slice(r * d + j0, w);
            var t = dTokenTable.Slice(tokens[r] * d + j0, w);
            TensorPrimitives.Add(t, g, t);
            if (!dPositionTable.IsEmpty)
            {
                var p = dPositionTable.Slice(positions[r] * d + j0, w);
                TensorPrimitives.Add(p, g, p);
            }
        }
    }

    /// <summary>Validates shapes and every index before anything is written, so a bad id loses nothing.</summary>
    static void Check(string k, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions, int tokenTableLength, int positionTableLength,
        int rowsLength, string rowsName, int d)
    {
        KernelArgs.Positive(k, nameof(d), d);
        int n = tokens.Length;
        KernelArgs.Length(k, rowsName, rowsLength, (long)n * d, KernelArgs.Shape("n", n, "d", d));
        if (tokenTableLength % d != 0)
            throw new ArgumentException($"{k}: token table has {tokenTableLength} elements, not a whole number of rows of d={d}.", "tokenTable");
        int vocab = tokenTableLength / d;
        for (int r = 0; r < n; r++)
            if ((uint)tokens[r] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[r], $"{k}: token id {tokens[r]} at row {r} is outside the vocabulary [0, {vocab}).");
        if (positionTableLength == 0) return;
        if (positionTableLength % d != 0)
            throw new ArgumentException($"{k}: position table has {positionTableLength} elements, not a whole number of rows of d={d}.", "positionTable");
        KernelArgs.Length(k, nameof(positions), positions.Length, n, $"[n={n}] (one position per token)");
        int maxT = positionTableLength / d;
        for (int r = 0; r < n; r++)
            if ((uint)positions[r] >= (uint)maxT)
                throw new ArgumentOutOfRangeException(nameof(positions), positions[r], $"{k}: position {positions[r]} at row {r} is outside the position table [0, {maxT}).");
    }
}
