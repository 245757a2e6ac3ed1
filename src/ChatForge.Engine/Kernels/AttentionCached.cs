using System.Buffers;

namespace ChatForge.Engine.Kernels;

public static unsafe partial class Attention
{
    /// <summary>Below this many (row, head) queries per work item, scores come from dot products: packing Kᵀ would cost more than it saves.</summary>
    const int PackedScoresMinQueries = 8;

    /// <summary>
    /// Attention of query rows against a KV cache (K and V each [slots, maxT, Hkv·hd]): row r attends to
    /// cache[slots[r], 0..positions[r]] inclusive; the caller has already written K and V for positions[r].
    /// Covers prefill (many rows of one slot at consecutive positions) and batched decode (one row per slot,
    /// each with its own length). q rows are [Hq·hd] (RoPE already applied); output rows are [Hq·hd], written.
    /// Work items are (run of up to 64/G consecutive rows sharing a slot, kv head); each item treats its rows ×
    /// the G query heads of that kv head as one block of queries and streams the cache in blocks of 64 keys
    /// with an online softmax, so only [queries × 64] scores ever exist.
    /// </summary>
    public static void CachedForward(ReadOnlySpan<float> q, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions,
        ReadOnlySpan<float> kCache, ReadOnlySpan<float> vCache, int maxT, Span<float> output, int nHeads, int nKvHeads, int headDim)
        => CachedForward(q, slots, positions, kCache, vCache, maxT, output, nHeads, nKvHeads, headDim, Simd.Level);

    internal static void CachedForward(ReadOnlySpan<float> q, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions,
        ReadOnlySpan<float> kCache, ReadOnlySpan<float> vCache, int maxT, Span<float> output, int nHeads, int nKvHeads, int headDim, SimdLevel level)
    {
        CheckHeads(nHeads, nKvHeads, headDim);
        int rows = slots.Length, qDim = nHeads * headDim, kvDim = nKvHeads * headDim;
        if (positions.Length != rows)
            throw new ArgumentException($"Attention cache: positions has {positions.Length} entries but slots has {rows}; both are [rows].", nameof(positions));
        if (q.Length != (long)rows * qDim)
            throw new ArgumentException($"Attention cache: q has {q.Length} floats but shape [{rows}, {qDim}] needs {(long)rows * qDim}.", nameof(q));
        if (output.Length != (long)rows * qDim)
            throw new ArgumentException($"Attention cache: output has {output.Length} floats but shape [{rows}, {qDim}] needs {(long)rows * qDim}.", nameof(output));
        if (maxT <= 0) throw new ArgumentOutOfRangeException(nameof(maxT), maxT, "Attention cache: maxT must be positive.");
        long slotFloats = (long)maxT * kvDim;
        if (kCache.Length % slotFloats != 0 || kCache.Length == 0)
            throw new ArgumentException($"Attention cache: kCache has {kCache.Length} floats, not a whole number of slots of shape [{maxT}, {kvDim}].", nameof(kCache));
        if (vCache.Length != kCache.Length)
            throw new ArgumentException($"Attention cache: vCache has {vCache.Length} floats but kCache has {kCache.Length}; both are [slots, {maxT}, {kvDim}].", nameof(vCache));
        long slotCount = kCache.Length / slotFloats;
        for (int r = 0; r < rows; r++)
        {
            if ((uint)slots[r] >= slotCount)
                throw new ArgumentOutOfRangeException(nameof(slots), slots[r], $"Attention cache: row {r} uses slot {slots[r]} but the cache [{slotCount}, {maxT}, {kvDim}] has {slotCount} slots.");
            if ((uint)positions[r] >= maxT)
                throw new ArgumentOutOfRangeException(nameof(positions), positions[r], $"Attention cache: row {r} is at position {positions[r]}, outside [0, {maxT}).");
        }
        if (rows == 0) return;

        int group = nHeads / nKvHeads;
        int rowsPerItem = Math.Max(1, BlockQ / group);
        int[] itemStart = ArrayPool<int>.Shared.Rent(rows);
        int[] itemCount = ArrayPool<int>.Shared.Rent(rows);
        try
        {
            int items = 0;
            for (int r = 0; r < rows; r++)
            {
                if (items > 0 && slots[r] == slots[itemStart[items - 1]] && itemCount[items - 1] < rowsPerItem) itemCount[items - 1]++;
                else { itemStart[items] = r; itemCount[items] = 1; items++; }
            }

            var cache = new CacheDims(nHeads, nKvHeads, headDim, maxT);
            fixed (float* pq = q, pk = kCache, pv = vCache, po = output)
            fixed (int* ps = slots, pp = positions)
            {
                nint qa = (nint)pq, ka = (nint)pk, va = (nint)pv, oa = (nint)po, sa = (nint)ps, pa = (nint)pp;
                KernelThreads.For(0, items * nKvHeads, u =>
                {
                    int item = u / nKvHeads;
                    CachedItem(level, cache, (float*)qa, (int*)sa, (int*)pa, (float*)ka, (float*)va, (float*)oa,
                        itemStart[item], itemCount[item], u % nKvHeads);
                });
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(itemStart);
            ArrayPool<int>.Shared.Return(itemCount);
        }
    }

    static void CachedItem(SimdLevel level, CacheDims s, float* q, int* slots, int* positions, float* kCache, float* vCache, float* output,
        int r0, int rowCount, int g)
    {
        int hd = s.HeadDim, group = s.Heads / s.KvHeads, queries = rowCount * group, qDim = s.Heads * hd, kvDim = s.KvHeads * hd;
        float* qs = ThreadScratch.Get(queries * hd + hd * BlockK + queries * BlockK + queries * hd + 2 * queries);
        float* kT = qs + queries * hd;
        float* scores = kT + hd * BlockK;
        float* acc = scores + queries * BlockK;
        float* rowMax = acc + queries * hd;
        float* rowSum = rowMax + queries;

        // Query e is (row r0 + e / group, head g·group + e % group); its heads sit side by side in the q row.
        float scale = 1f / MathF.Sqrt(hd);
        int maxPosition = 0;
        for (int r = 0; r < rowCount; r++)
        {
            AttentionBlocks.Scale(level, q + (nint)(r0 + r) * qDim + g * group * hd, qs + r * group * hd, group * hd, scale);
            maxPosition = Math.Max(maxPosition, positions[r0 + r]);
        }
        new Span<float>(rowMax, queries).Fill(float.NegativeInfinity);
        new Span<float>(rowSum, queries).Clear();
        new Span<float>(acc, queries * hd).Clear();

        nint slotOffset = (nint)slots[r0] * s.MaxT * kvDim + g * hd;
        float* kBase = kCache + slotOffset;
        float* vBase = vCache + slotOffset;
        bool packed = queries >= PackedScoresMinQueries;
        for (int j0 = 0; j0 <= maxPosition; j0 += BlockK)
        {
            int bk = Math.Min(BlockK, maxPosition + 1 - j0);
            float* kBlock = kBase + (nint)j0 * kvDim;
            if (packed)
            {
                PackTransposedBlock(kBlock, kvDim, bk, hd, 1f, kT);
                AttentionBlocks.MatMul(level, qs, hd, 1, kT, BlockK, scores, BlockK, queries, BlockK, hd, false);
            }
            else
            {
                for (int e = 0; e < queries; e++)
                {
                    int valid = Math.Min(bk, positions[r0 + e / group] - j0 + 1);
                    for (int j = 0; j < valid; j++)
                        scores[e * BlockK + j] = AttentionBlocks.Dot(level, qs + e * hd, kBlock + (nint)j * kvDim, hd);
                }
            }
            for (int e = 0; e < queries; e++)
                OnlineSoftmaxRow(level, scores + e * BlockK, Math.Min(bk, positions[r0 + e / group] - j0 + 1), bk, rowMax + e, rowSum + e, acc + e * hd, hd);
            AttentionBlocks.MatMul(level, scores, BlockK, 1, vBase + (nint)j0 * kvDim, kvDim, acc, hd, queries, hd, bk, true);
        }

        for (int e = 0; e < queries; e++)
            AttentionBlocks.Scale(level, acc + e * hd, output + (nint)(r0 + e / group) * qDim + (g * group + e % group) * hd, hd, 1f / rowSum[e]);
    }

    readonly record struct CacheDims(int Heads, int KvHeads, int HeadDim, int MaxT);
}
