using System.Buffers;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// Softmax cross-entropy fused with the LM head (logits = x·Wᵀ, W [V, d]) and chunked over the vocabulary, so
/// the [n, V] logits never exist: memory is O(n·ChunkColumns). Pass 1 computes each chunk of logits and folds it
/// into a running max and sum of exponentials per row (an online logsumexp) while picking up the target's logit;
/// pass 2 recomputes each chunk, turns it into dlogits = rowWeight·(softmax − onehot(target)) and feeds
/// dx += dlogits·W_chunk and dW_chunk += dlogitsᵀ·x. Recomputing costs one extra n·V·d matmul (a quarter of the
/// head's work) but is the only way to know every row's normaliser before the first dW chunk is formed without holding
/// all logits; when they fit in <see cref="KeptLogitsLimit"/> floats (pretraining's 4096 rows × 8192 do) pass 1 keeps
/// every chunk and pass 2 reads it back instead: the same floats, so the same results. Rows whose target is −1 are skipped
/// entirely (they are gathered out before the matmuls, which matters for SFT where prompts are masked).
/// </summary>
public static unsafe class LmHeadLoss
{
    /// <summary>Vocabulary columns per chunk: the logits scratch is [rows × ChunkColumns] floats.</summary>
    public const int ChunkColumns = 2048;

    /// <summary>Up to this many logits (rows × vocabulary, 256 MB) pass 1 keeps for pass 2 instead of recomputing them.</summary>
    internal static long KeptLogitsLimit = 64L << 20;

    /// <summary>Rows per work item in the per-row softmax passes between the matmuls.</summary>
    const int RowsPerTask = 32;

    /// <summary>
    /// Returns Σ_r rowWeights[r]·(−log p_r(target_r)) and writes logProbs[r] = log p_r(target_r) (0 for ignored
    /// rows). dx [n, d] is WRITTEN (ignored rows get 0); dW [V, d] is ACCUMULATED (a tied embedding adds to it).
    /// rowWeights = 1/(number of valid targets) gives the mean cross-entropy.
    /// </summary>
    public static float ForwardBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<int> targets, ReadOnlySpan<float> rowWeights,
        Span<float> logProbs, Span<float> dx, Span<float> dW, int n, int d, int vocab)
        => ForwardBackward(x, w, targets, rowWeights, logProbs, dx, dW, n, d, vocab, Simd.Level);

    internal static float ForwardBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<int> targets, ReadOnlySpan<float> rowWeights,
        Span<float> logProbs, Span<float> dx, Span<float> dW, int n, int d, int vocab, SimdLevel level)
    {
        CheckCommon(x.Length, w.Length, targets, logProbs.Length, n, d, vocab);
        Check(rowWeights.Length, n, nameof(rowWeights), $"[{n}]");
        Check(dx.Length, (long)n * d, nameof(dx), $"[{n}, {d}]");
        Check(dW.Length, (long)vocab * d, nameof(dW), $"[{vocab}, {d}]");
        dx.Clear();
        logProbs.Clear();

        using var rows = new RowSet(x, targets, d, vocab, includeIgnored: false);
        if (rows.Count == 0) return 0f;
        var stats = rows.Stats;
        var weights = rows.Rent(rows.Count);
        for (int i = 0; i < rows.Count; i++) weights[i] = rowWeights[rows.Index[i]];
        var dxRows = rows.GatheredX != null ? rows.Rent(rows.Count * d) : null;
        var xRows = rows.X(x, d);
        Span<float> dxActive = dxRows != null ? dxRows.AsSpan(0, rows.Count * d) : dx;
        dxActive.Clear();

        // Chunk-major: chunk v0's [count × cw] logits start at count·v0.
        float[]? kept = (long)rows.Count * vocab <= KeptLogitsLimit ? rows.Rent(rows.Count * vocab) : null;
        Statistics(rows, xRows, w, d, vocab, level, kept);

        double loss = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            float logProb = stats.TargetLogit[i] - stats.Lse[i];
            logProbs[rows.Index[i]] = logProb;
            loss -= (double)weights[i] * logProb;
        }

        fixed (float* pChunk = rows.Logits, pKept = kept, pWeights = weights, pLse = stats.Lse)
        fixed (int* pTargets = rows.Target)
        {
            nint logitsAddress = (nint)pChunk, weightAddress = (nint)pWeights, lseAddress = (nint)pLse, targetAddress = (nint)pTargets;
            int count = rows.Count;
            for (int v0 = 0; v0 < vocab; v0 += ChunkColumns)
            {
                int cw = Math.Min(ChunkColumns, vocab - v0);
                var wChunk = w.Slice(v0 * d, cw * d);
                Span<float> logits;
                if (kept is not null) logits = kept.AsSpan(count * v0, count * cw);
                else
                {
                    logits = rows.Logits.AsSpan(0, count * cw);
                    Gemm.MatMul(xRows, wChunk, logits, count, cw, d, false, true, false, level);
                }
                int chunkStart = v0;
                nint chunkAddress = kept is not null ? (nint)(pKept + (nint)count * v0) : logitsAddress;
                KernelThreads.For(0, (count + RowsPerTask - 1) / RowsPerTask, task =>
                {
                    int end = Math.Min(count, (task + 1) * RowsPerTask);
                    for (int i = task * RowsPerTask; i < end; i++)
                    {
                        float* row = (float*)chunkAddress + (nint)i * cw;
                        float weight = ((float*)weightAddress)[i];
                        SoftmaxRows.ExpShiftScale(level, row, cw, ((float*)lseAddress)[i], weight);
                        int target = ((int*)targetAddress)[i] - chunkStart;
                        if ((uint)target < (uint)cw) row[target] -= weight;
                    }
                });
                Gemm.MatMul(logits, wChunk, dxActive, count, d, cw, false, false, true, level);
                Gemm.MatMul(logits, xRows, dW.Slice(v0 * d, cw * d), cw, d, count, true, false, true, level);
            }
        }

        if (dxRows != null)
            for (int i = 0; i < rows.Count; i++)
                dxRows.AsSpan(i * d, d).CopyTo(dx.Slice(rows.Index[i] * d, d));
        return (float)loss;
    }

    /// <summary>
    /// No gradients: writes logProbs[r] = log p_r(target_r) (0 for ignored rows) and, when <paramref name="entropy"/>
    /// is not empty, the entropy of every row's distribution (ignored rows included). Returns the mean
    /// −log p(target) over rows with a target (0 when there are none): the validation loss.
    /// </summary>
    public static float Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<int> targets, Span<float> logProbs, Span<float> entropy, int n, int d, int vocab)
        => Forward(x, w, targets, logProbs, entropy, n, d, vocab, Simd.Level);

    internal static float Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<int> targets, Span<float> logProbs, Span<float> entropy,
        int n, int d, int vocab, SimdLevel level)
    {
        CheckCommon(x.Length, w.Length, targets, logProbs.Length, n, d, vocab);
        if (!entropy.IsEmpty) Check(entropy.Length, n, nameof(entropy), $"[{n}] (or empty)");
        logProbs.Clear();

        using var rows = new RowSet(x, targets, d, vocab, includeIgnored: !entropy.IsEmpty);
        if (rows.Count == 0) return 0f;
        Statistics(rows, rows.X(x, d), w, d, vocab, level);

        var stats = rows.Stats;
        double nll = 0;
        int valid = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            int r = rows.Index[i];
            if (!entropy.IsEmpty) entropy[r] = stats.Lse[i] - stats.SumExpLogit[i] / stats.SumExp[i];
            if (rows.Target[i] < 0) continue;
            float logProb = stats.TargetLogit[i] - stats.Lse[i];
            logProbs[r] = logProb;
            nll -= logProb;
            valid++;
        }
        return valid == 0 ? 0f : (float)(nll / valid);
    }

    /// <summary>Pass 1: per row, the online logsumexp over all vocabulary chunks, the target's logit and Σ exp·logit for the entropy.</summary>
    static void Statistics(RowSet rows, ReadOnlySpan<float> xRows, ReadOnlySpan<float> w, int d, int vocab, SimdLevel level, float[]? kept = null)
    {
        var stats = rows.Stats;
        int count = rows.Count;
        stats.Max.AsSpan(0, count).Fill(float.NegativeInfinity);
        stats.SumExp.AsSpan(0, count).Clear();
        stats.SumExpLogit.AsSpan(0, count).Clear();
        stats.TargetLogit.AsSpan(0, count).Clear();
        fixed (float* pChunk = rows.Logits, pKept = kept, pMax = stats.Max, pSum = stats.SumExp, pSumX = stats.SumExpLogit, pTargetLogit = stats.TargetLogit)
        fixed (int* pTargets = rows.Target)
        {
            nint maxAddress = (nint)pMax, sumAddress = (nint)pSum, sumXAddress = (nint)pSumX;
            nint targetLogitAddress = (nint)pTargetLogit, targetAddress = (nint)pTargets;
            for (int v0 = 0; v0 < vocab; v0 += ChunkColumns)
            {
                int cw = Math.Min(ChunkColumns, vocab - v0);
                var logits = kept is not null ? kept.AsSpan(count * v0, count * cw) : rows.Logits.AsSpan(0, count * cw);
                Gemm.MatMul(xRows, w.Slice(v0 * d, cw * d), logits, count, cw, d, false, true, false, level);
                nint logitsAddress = kept is not null ? (nint)(pKept + (nint)count * v0) : (nint)pChunk;
                int chunkStart = v0;
                KernelThreads.For(0, (count + RowsPerTask - 1) / RowsPerTask, task =>
                {
                    int end = Math.Min(count, (task + 1) * RowsPerTask);
                    for (int i = task * RowsPerTask; i < end; i++)
                    {
                        float* row = (float*)logitsAddress + (nint)i * cw;
                        float* max = (float*)maxAddress + i;
                        float newMax = MathF.Max(*max, SoftmaxRows.Max(level, row, cw));
                        float alpha = MathF.Exp(*max - newMax); // 0 on the first chunk: the old max is −∞
                        var (sumExp, sumExpLogit) = SoftmaxRows.ExpShiftSums(level, row, cw, newMax);
                        ((float*)sumAddress)[i] = ((float*)sumAddress)[i] * alpha + sumExp;
                        ((float*)sumXAddress)[i] = ((float*)sumXAddress)[i] * alpha + sumExpLogit;
                        *max = newMax;
                        int target = ((int*)targetAddress)[i] - chunkStart;
                        if ((uint)target < (uint)cw) ((float*)targetLogitAddress)[i] = row[target];
                    }
                });
            }
        }
        for (int i = 0; i < count; i++) stats.Lse[i] = stats.Max[i] + MathF.Log(stats.SumExp[i]);
    }

    static void CheckCommon(int xLength, int wLength, ReadOnlySpan<int> targets, int logProbsLength, int n, int d, int vocab)
    {
        if (n < 0 || d <= 0 || vocab <= 0)
            throw new ArgumentException($"LmHeadLoss: n ({n}) must be non-negative, d ({d}) and vocab ({vocab}) positive.");
        Check(xLength, (long)n * d, "x", $"[{n}, {d}]");
        Check(wLength, (long)vocab * d, "w", $"[{vocab}, {d}]");
        Check(targets.Length, n, nameof(targets), $"[{n}]");
        Check(logProbsLength, n, "logProbs", $"[{n}]");
        for (int r = 0; r < n; r++)
            if (targets[r] < -1 || targets[r] >= vocab)
                throw new ArgumentOutOfRangeException(nameof(targets), targets[r], $"LmHeadLoss: target {targets[r]} at row {r} is outside [0, {vocab}) (−1 marks an ignored row).");
    }

    static void Check(int actual, long expected, string name, string shape)
    {
        if (actual != expected)
            throw new ArgumentException($"LmHeadLoss: {name} has {actual} values but shape {shape} needs {expected}.", name);
    }

    /// <summary>Per-row running statistics of pass 1, indexed by active row.</summary>
    sealed class RowStats(float[] max, float[] sumExp, float[] sumExpLogit, float[] targetLogit, float[] lse)
    {
        public readonly float[] Max = max, SumExp = sumExp, SumExpLogit = sumExpLogit, TargetLogit = targetLogit, Lse = lse;
    }

    /// <summary>
    /// The rows a call works on (all rows, or only those with a target), their targets, the logits chunk and the
    /// statistics, all rented from the shared array pool and returned on Dispose. When some rows are left out,
    /// their x rows are gathered into a dense block (<see cref="GatheredX"/>); otherwise the caller's x is used as is.
    /// </summary>
    sealed class RowSet : IDisposable
    {
        readonly List<float[]> _rented = new();
        readonly List<int[]> _rentedInts = new();

        public int Count { get; }
        public int[] Index { get; }
        public int[] Target { get; }
        public float[]? GatheredX { get; }
        public float[] Logits { get; }
        public RowStats Stats { get; }

        public RowSet(ReadOnlySpan<float> x, ReadOnlySpan<int> targets, int d, int vocab, bool includeIgnored)
        {
            int n = targets.Length;
            Index = RentInts(Math.Max(1, n));
            int count = 0;
            for (int r = 0; r < n; r++)
                if (includeIgnored || targets[r] >= 0) Index[count++] = r;
            Count = count;
            Target = RentInts(Math.Max(1, count));
            for (int i = 0; i < count; i++) Target[i] = targets[Index[i]];
            if (count < n)
            {
                GatheredX = Rent(Math.Max(1, count * d));
                for (int i = 0; i < count; i++) x.Slice(Index[i] * d, d).CopyTo(GatheredX.AsSpan(i * d, d));
            }
            Logits = Rent(Math.Max(1, count * Math.Min(ChunkColumns, vocab)));
            int size = Math.Max(1, count);
            Stats = new RowStats(Rent(size), Rent(size), Rent(size), Rent(size), Rent(size));
        }

        /// <summary>The x rows this set works on: the gathered block, or the caller's x when every row takes part.</summary>
        public ReadOnlySpan<float> X(ReadOnlySpan<float> x, int d) => GatheredX != null ? GatheredX.AsSpan(0, Count * d) : x;

        public float[] Rent(int length)
        {
            var array = ArrayPool<float>.Shared.Rent(length);
            _rented.Add(array);
            return array;
        }

        int[] RentInts(int length)
        {
            var array = ArrayPool<int>.Shared.Rent(length);
            _rentedInts.Add(array);
            return array;
        }

        public void Dispose()
        {
            foreach (var a in _rented) ArrayPool<float>.Shared.Return(a);
            foreach (var a in _rentedInts) ArrayPool<int>.Shared.Return(a);
        }
    }
}
