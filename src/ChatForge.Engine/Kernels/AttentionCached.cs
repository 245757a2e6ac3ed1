using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Kernels;

public static unsafe partial class Attention
{
    /// <summary>Below this many (row, head) queries per kv head, a run of rows takes the decode path: packing Kᵀ would cost more than it saves.</summary>
    const int PackedScoresMinQueries = 8;

    /// <summary>
    /// Attention of query rows against a KV cache (K and V each [slots, maxT, Hkv·hd]): row r attends to
    /// cache[slots[r], 0..positions[r]] inclusive; the caller has already written K and V for positions[r].
    /// Covers prefill (many rows of one slot at consecutive positions) and batched decode (one row per slot,
    /// each with its own length). q rows are [Hq·hd] (RoPE already applied); output rows are [Hq·hd], written.
    /// Consecutive rows sharing a slot form a run. A long run (prefill) is computed per kv head like
    /// <see cref="Forward"/>: Kᵀ packed once, blocks of queries (rows × the G heads of that kv head) against
    /// blocks of 64 keys with an online softmax. A short run (decode) walks the cache key by key across all
    /// its kv heads, so the memory-bound K/V reads are sequential, with dot-product scores. Either way only
    /// [queries × 64] scores exist.
    /// </summary>
    public static void CachedForward(ReadOnlySpan<float> q, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions,
        ReadOnlySpan<float> kCache, ReadOnlySpan<float> vCache, int maxT, Span<float> output, int nHeads, int nKvHeads, int headDim)
        => CachedForward(q, slots, positions, kCache, vCache, maxT, output, nHeads, nKvHeads, headDim, Simd.Level);

    internal static void CachedForward(ReadOnlySpan<float> q, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions,
        ReadOnlySpan<float> kCache, ReadOnlySpan<float> vCache, int maxT, Span<float> output, int nHeads, int nKvHeads, int headDim, SimdLevel level)
    {
        fixed (float* pk = kCache, pv = vCache)
            CachedForward(q, slots, positions, new KvView((nint)pk, (nint)pv, bf16: false), kCache.Length, vCache.Length, maxT, output, nHeads, nKvHeads, headDim, level);
    }

    /// <summary>The same against a bf16 cache: each block of keys and values is widened to float32 in thread scratch as it is visited.</summary>
    public static void CachedForward(ReadOnlySpan<float> q, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions,
        ReadOnlySpan<ushort> kCache, ReadOnlySpan<ushort> vCache, int maxT, Span<float> output, int nHeads, int nKvHeads, int headDim)
        => CachedForward(q, slots, positions, kCache, vCache, maxT, output, nHeads, nKvHeads, headDim, Simd.Level);

    internal static void CachedForward(ReadOnlySpan<float> q, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions,
        ReadOnlySpan<ushort> kCache, ReadOnlySpan<ushort> vCache, int maxT, Span<float> output, int nHeads, int nKvHeads, int headDim, SimdLevel level)
    {
        fixed (ushort* pk = kCache, pv = vCache)
            CachedForward(q, slots, positions, new KvView((nint)pk, (nint)pv, bf16: true), kCache.Length, vCache.Length, maxT, output, nHeads, nKvHeads, headDim, level);
    }

    /// <summary>
    /// The same against an int8 cache: keys and values as int8 with one scale per (slot, position, kv head) in
    /// kScales/vScales [slots, maxT, Hkv]; each block is widened and scaled to float32 in thread scratch as it is visited.
    /// </summary>
    public static void CachedForward(ReadOnlySpan<float> q, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions,
        ReadOnlySpan<sbyte> kCache, ReadOnlySpan<sbyte> vCache, ReadOnlySpan<float> kScales, ReadOnlySpan<float> vScales, int maxT,
        Span<float> output, int nHeads, int nKvHeads, int headDim)
        => CachedForward(q, slots, positions, kCache, vCache, kScales, vScales, maxT, output, nHeads, nKvHeads, headDim, Simd.Level);

    internal static void CachedForward(ReadOnlySpan<float> q, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions,
        ReadOnlySpan<sbyte> kCache, ReadOnlySpan<sbyte> vCache, ReadOnlySpan<float> kScales, ReadOnlySpan<float> vScales, int maxT,
        Span<float> output, int nHeads, int nKvHeads, int headDim, SimdLevel level)
    {
        CheckHeads(nHeads, nKvHeads, headDim);
        if ((long)kScales.Length * headDim != kCache.Length || vScales.Length != kScales.Length)
            throw new ArgumentException($"Attention cache: int8 scales hold {kScales.Length} (keys) and {vScales.Length} (values) floats but a cache of {kCache.Length} values in heads of {headDim} needs {kCache.Length / headDim} each.", nameof(kScales));
        fixed (sbyte* pk = kCache, pv = vCache)
        fixed (float* sk = kScales, sv = vScales)
            CachedForward(q, slots, positions, new KvView((nint)pk, (nint)pv, (nint)sk, (nint)sv, headDim, nKvHeads), kCache.Length, vCache.Length, maxT, output, nHeads, nKvHeads, headDim, level);
    }

    static void CachedForward(ReadOnlySpan<float> q, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions,
        KvView kv, int kLength, int vLength, int maxT, Span<float> output, int nHeads, int nKvHeads, int headDim, SimdLevel level)
    {
        CheckHeads(nHeads, nKvHeads, headDim);
        int rows = slots.Length, qDim = nHeads * headDim, kvDim = nKvHeads * headDim;
        if (positions.Length != rows)
            throw new ArgumentException($"Attention cache: positions has {positions.Length} entries but slots has {rows}; both are [rows].", nameof(positions));
        if (q.Length != (long)rows * qDim)
            throw new ArgumentException($"Attention cache: q has {q.Length} floats but shape [{rows}, {qDim}] needs {(long)rows * qDim}.", nameof(q));
        if (output.Length != (long)rows * qDim)
            throw new ArgumentException($"Attention cache: output has {output.Length} floats but shape [{rows}, {qDim}] needs {(long)rows * qDim}.", nameof(output));
        long slotCount = CheckCache(kLength, vLength, maxT, kvDim);
        for (int r = 0; r < rows; r++) CheckRow(r, slots[r], positions[r], slotCount, maxT, kvDim);
        if (rows == 0) return;

        var plan = CachePlan.Create(slots, positions, nHeads / nKvHeads, nKvHeads);
        // The key chunks of a row split by key range leave their softmax states here, merged once every part is done.
        int chunkState = nHeads * (headDim + 2);
        float[]? states = plan.SplitChunks > 0 ? ArrayPool<float>.Shared.Rent(plan.SplitChunks * chunkState) : null;
        try
        {
            var dims = new CacheDims(nHeads, nKvHeads, headDim, maxT);
            fixed (float* pq = q, po = output, pStates = states)
            fixed (int* ps = slots, pp = positions)
            {
                nint qa = (nint)pq, oa = (nint)po, sa = (nint)ps, pa = (nint)pp, ta = (nint)pStates;
                KernelThreads.For(0, plan.Count, i =>
                {
                    var item = plan.Items[i];
                    if (item.StateChunk >= 0)
                        CachedDecodeRow(level, dims, (float*)qa, ((int*)sa)[item.Row], ((int*)pa)[item.Row], kv, (float*)oa, item.Row, 0, nKvHeads,
                            item.FirstChunk, item.ChunkCount, (float*)ta + (nint)item.StateChunk * chunkState);
                    else if (item.Decode)
                        for (int r = item.Row; r < item.Row + item.RowCount; r++)
                            CachedDecodeRow(level, dims, (float*)qa, ((int*)sa)[r], ((int*)pa)[r], kv, (float*)oa, r, item.KvHead, item.KvHeadCount, 0, -1, null);
                    else
                        CachedPrefillItem(level, dims, (float*)qa, (int*)sa, (int*)pa, kv, (float*)oa, item.Row, item.RowCount, item.KvHead);
                });
                // A split row's parts are consecutive items, their chunks consecutive states.
                for (int i = 0; i < plan.Count; i++)
                {
                    var item = plan.Items[i];
                    if (item.StateChunk < 0 || item.FirstChunk != 0) continue;
                    int chunks = KeyChunks(positions[item.Row]);
                    MergeChunks(level, pStates + (nint)item.StateChunk * chunkState, chunks, nHeads, headDim, po + (nint)item.Row * qDim);
                }
            }
        }
        finally
        {
            ArrayPool<CacheItem>.Shared.Return(plan.Items);
            if (states is not null) ArrayPool<float>.Shared.Return(states);
        }
    }

    /// <summary>
    /// Decode attends to keys in chunks of this many, each with its own softmax state, merged in order at the end
    /// (<see cref="MergeChunks"/>). The arithmetic is the same whether one thread walks all chunks of a row or
    /// several threads take a share each, so results never depend on the thread count or on the batch.
    /// </summary>
    const int KeyChunk = 256;

    static int KeyChunks(int position) => position / KeyChunk + 1;

    /// <summary>
    /// Joins the softmax states of a row's key chunks (per chunk and head: its max, its Σ exp(score − max) and
    /// Σ exp(score − max)·v): each rescaled to the common max, sums and outputs add up, then output = Σ / sum.
    /// </summary>
    static void MergeChunks(SimdLevel level, float* states, int chunks, int heads, int hd, float* output)
    {
        int stride = heads * (hd + 2);
        for (int e = 0; e < heads; e++)
        {
            float max = float.NegativeInfinity;
            for (int c = 0; c < chunks; c++) max = MathF.Max(max, states[c * stride + e * (hd + 2)]);
            float sum = 0;
            float* o = output + e * hd;
            new Span<float>(o, hd).Clear();
            for (int c = 0; c < chunks; c++)
            {
                float* state = states + c * stride + e * (hd + 2);
                float scale = MathF.Exp(state[0] - max);
                sum += state[1] * scale;
                AttentionBlocks.Axpy(level, scale, state + 2, o, hd);
            }
            AttentionBlocks.Scale(level, o, o, hd, 1f / sum);
        }
    }

    /// <summary>
    /// Copies the k and v parts of fused projection rows [rows, (Hq + 2·Hkv)·hd] (RoPE already applied to k) into
    /// the cache at (slots[r], positions[r]): what a prefill or decode step does before <see cref="CachedForward"/>.
    /// </summary>
    public static void WriteKvCache(ReadOnlySpan<float> qkv, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions,
        Span<float> kCache, Span<float> vCache, int maxT, int nHeads, int nKvHeads, int headDim)
    {
        CheckHeads(nHeads, nKvHeads, headDim);
        int rows = slots.Length, qDim = nHeads * headDim, kvDim = nKvHeads * headDim, qkvDim = qDim + 2 * kvDim;
        if (positions.Length != rows)
            throw new ArgumentException($"Attention cache: positions has {positions.Length} entries but slots has {rows}; both are [rows].", nameof(positions));
        if (qkv.Length != (long)rows * qkvDim)
            throw new ArgumentException($"Attention cache: qkv has {qkv.Length} floats but shape [{rows}, {qkvDim}] needs {(long)rows * qkvDim}.", nameof(qkv));
        long slotCount = CheckCache(kCache.Length, vCache.Length, maxT, kvDim);
        for (int r = 0; r < rows; r++)
        {
            CheckRow(r, slots[r], positions[r], slotCount, maxT, kvDim);
            long offset = ((long)slots[r] * maxT + positions[r]) * kvDim;
            qkv.Slice(r * qkvDim + qDim, kvDim).CopyTo(kCache.Slice((int)offset, kvDim));
            qkv.Slice(r * qkvDim + qDim + kvDim, kvDim).CopyTo(vCache.Slice((int)offset, kvDim));
        }
    }

    static long CheckCache(int kLength, int vLength, int maxT, int kvDim)
    {
        if (maxT <= 0) throw new ArgumentOutOfRangeException(nameof(maxT), maxT, "Attention cache: maxT must be positive.");
        long slotFloats = (long)maxT * kvDim;
        if (kLength % slotFloats != 0 || kLength == 0)
            throw new ArgumentException($"Attention cache: kCache has {kLength} floats, not a whole number of slots of shape [{maxT}, {kvDim}].", "kCache");
        if (vLength != kLength)
            throw new ArgumentException($"Attention cache: vCache has {vLength} floats but kCache has {kLength}; both are [slots, {maxT}, {kvDim}].", "vCache");
        return kLength / slotFloats;
    }

    static void CheckRow(int r, int slot, int position, long slotCount, int maxT, int kvDim)
    {
        if ((uint)slot >= slotCount)
            throw new ArgumentOutOfRangeException("slots", slot, $"Attention cache: row {r} uses slot {slot} but the cache [{slotCount}, {maxT}, {kvDim}] has {slotCount} slots.");
        if ((uint)position >= maxT)
            throw new ArgumentOutOfRangeException("positions", position, $"Attention cache: row {r} is at position {position}, outside [0, {maxT}).");
    }

    /// <summary>Prefill: rows [r0, r0 + rowCount) of one slot against kv head g, Kᵀ packed once for every key they need.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void CachedPrefillItem(SimdLevel level, CacheDims s, float* q, int* slots, int* positions, KvView kv, float* output,
        int r0, int rowCount, int g)
    {
        int hd = s.HeadDim, group = s.Group, qDim = s.QDim, kvDim = s.KvDim;
        int rowsPerBlock = Math.Max(1, BlockQ / group), blockQueries = rowsPerBlock * group;
        int maxPosition = 0;
        for (int r = r0; r < r0 + rowCount; r++) maxPosition = Math.Max(maxPosition, positions[r]);
        int packed = (maxPosition / BlockK + 1) * hd * BlockK;
        int widened = kv.Widens ? (maxPosition + 1) * hd + BlockK * hd : 0;
        float* kT = ThreadScratch.Get(packed + 2 * blockQueries * hd + blockQueries * BlockK + 2 * blockQueries + widened);
        float* qs = kT + packed;
        float* scores = qs + blockQueries * hd;
        float* acc = scores + blockQueries * BlockK;
        float* rowMax = acc + blockQueries * hd;
        float* rowSum = rowMax + blockQueries;
        float* kWide = rowSum + blockQueries, vWide = kWide + (maxPosition + 1) * hd;

        nint slotOffset = (nint)slots[r0] * s.MaxT * kvDim + g * hd;
        float* keys = kv.Keys(slotOffset, maxPosition + 1, hd, kvDim, kWide, out int kStride);
        PackTransposed(keys, kStride, maxPosition + 1, hd, 1f, kT);
        float scale = 1f / MathF.Sqrt(hd);

        for (int rb = r0; rb < r0 + rowCount; rb += rowsPerBlock)
        {
            int rc = Math.Min(rowsPerBlock, r0 + rowCount - rb), queries = rc * group;
            // Query e is (row rb + e / group, head g·group + e % group): those heads sit side by side in the q row.
            int blockMax = 0;
            for (int r = 0; r < rc; r++)
            {
                AttentionBlocks.Scale(level, q + (nint)(rb + r) * qDim + g * group * hd, qs + r * group * hd, group * hd, scale);
                blockMax = Math.Max(blockMax, positions[rb + r]);
            }
            new Span<float>(rowMax, queries).Fill(float.NegativeInfinity);
            new Span<float>(rowSum, queries).Clear();
            new Span<float>(acc, queries * hd).Clear();

            for (int j0 = 0; j0 <= blockMax; j0 += BlockK)
            {
                int bk = Math.Min(BlockK, blockMax + 1 - j0);
                AttentionBlocks.MatMul(level, qs, hd, 1, kT + (nint)(j0 / BlockK) * hd * BlockK, BlockK, scores, BlockK, queries, BlockK, hd, false);
                for (int e = 0; e < queries; e++)
                    OnlineSoftmaxRow(level, scores + e * BlockK, Math.Min(bk, positions[rb + e / group] - j0 + 1), bk, rowMax + e, rowSum + e, acc + e * hd, hd);
                float* values = kv.Values(slotOffset + (nint)j0 * kvDim, bk, hd, kvDim, vWide, out int vStride);
                AttentionBlocks.MatMul(level, scores, BlockK, 1, values, vStride, acc, hd, queries, hd, bk, true);
            }

            for (int e = 0; e < queries; e++)
                AttentionBlocks.Scale(level, acc + e * hd, output + (nint)(rb + e / group) * qDim + (g * group + e % group) * hd, hd, 1f / rowSum[e]);
        }
    }

    /// <summary>
    /// Decode: one row against kv heads [g0, g0 + gCount), key chunk by key chunk (<see cref="KeyChunk"/>). Keys are
    /// visited in cache order with all those heads side by side, so K and V stream sequentially from memory (decode is
    /// bandwidth-bound on the cache). With <paramref name="states"/> set (a row split by key range), only chunks
    /// [firstChunk, firstChunk + chunkCount) are computed and their states left there for <see cref="MergeChunks"/>;
    /// otherwise every chunk's state goes to scratch and the row's output is merged here.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void CachedDecodeRow(SimdLevel level, CacheDims s, float* q, int slot, int position, KvView kv, float* output,
        int r, int g0, int gCount, int firstChunk, int chunkCount, float* states)
    {
        int hd = s.HeadDim, group = s.Group, kvDim = s.KvDim, queries = gCount * group, cols = gCount * hd;
        int allChunks = KeyChunks(position), chunkState = queries * (hd + 2);
        if (states is null) chunkCount = allChunks;
        bool inPlace = DecodesInPlace(level, hd);
        bool widens = kv.Widens && !inPlace;
        float* qs = ThreadScratch.Get(2 * queries * hd + queries * BlockK + 2 * queries + (widens ? 2 * BlockK * cols : 0)
            + (states is null ? allChunks * chunkState : 0));
        float* scores = qs + queries * hd;
        float* acc = scores + queries * BlockK;
        float* rowMax = acc + queries * hd;
        float* rowSum = rowMax + queries;
        float* kWide = rowSum + queries, vWide = kWide + BlockK * cols;
        // After the widening scratch of a bf16 or int8 cache; a float cache has none, so the states start where it would.
        float* chunkStates = states != null ? states : widens ? vWide + BlockK * cols : kWide;

        // Query e is head g0·group + e; kv head g0 + e / group.
        float* qRow = q + (nint)r * s.QDim + g0 * group * hd;
        AttentionBlocks.Scale(level, qRow, qs, queries * hd, 1f / MathF.Sqrt(hd));

        nint slotOffset = (nint)slot * s.MaxT * kvDim + g0 * hd;
        for (int c = firstChunk; c < firstChunk + chunkCount; c++)
        {
            new Span<float>(rowMax, queries).Fill(float.NegativeInfinity);
            new Span<float>(rowSum, queries).Clear();
            new Span<float>(acc, queries * hd).Clear();
            int chunkEnd = Math.Min(position + 1, (c + 1) * KeyChunk);
            for (int j0 = c * KeyChunk; j0 < chunkEnd; j0 += BlockK)
            {
                int bk = Math.Min(BlockK, chunkEnd - j0);
                if (inPlace)
                {
                    DecodeBlockInPlace(level, kv, s, slot, g0, queries, j0, bk, qs, scores, rowMax, rowSum, acc);
                    continue;
                }
                float* keys = kv.Keys(slotOffset + (nint)j0 * kvDim, bk, cols, kvDim, kWide, out int kStride);
                float* values = kv.Values(slotOffset + (nint)j0 * kvDim, bk, cols, kvDim, vWide, out int vStride);
                int j = 0;
                for (; j + 4 <= bk; j += 4)
                    for (int e = 0; e < queries; e++)
                        AttentionBlocks.Dot4(level, qs + e * hd, keys + (nint)j * kStride + e / group * hd, kStride, hd, scores + e * BlockK + j);
                for (; j < bk; j++)
                    for (int e = 0; e < queries; e++)
                        scores[e * BlockK + j] = AttentionBlocks.Dot(level, qs + e * hd, keys + (nint)j * kStride + e / group * hd, hd);
                for (int e = 0; e < queries; e++)
                    OnlineSoftmaxRow(level, scores + e * BlockK, bk, bk, rowMax + e, rowSum + e, acc + e * hd, hd);
                j = 0;
                for (; j + 4 <= bk; j += 4)
                    for (int e = 0; e < queries; e++)
                        AttentionBlocks.Axpy4(level, scores + e * BlockK + j, values + (nint)j * vStride + e / group * hd, vStride, acc + e * hd, hd);
                for (; j < bk; j++)
                    for (int e = 0; e < queries; e++)
                        AttentionBlocks.Axpy(level, scores[e * BlockK + j], values + (nint)j * vStride + e / group * hd, acc + e * hd, hd);
            }
            float* state = chunkStates + (nint)(c - firstChunk) * (states is null ? chunkState : s.Heads * (hd + 2));
            for (int e = 0; e < queries; e++)
            {
                float* headState = state + (nint)e * (hd + 2);
                headState[0] = rowMax[e];
                headState[1] = rowSum[e];
                new Span<float>(acc + e * hd, hd).CopyTo(new Span<float>(headState + 2, hd));
            }
        }
        if (states is null) MergeChunks(level, chunkStates, allChunks, queries, hd, output + (nint)r * s.QDim + g0 * group * hd);
    }

    /// <summary>
    /// One layer's K and V cache arrays, float32, bf16 or int8 (with per-(position, kv head) scales).
    /// <see cref="Keys"/>/<see cref="Values"/> give a float32 view of `rows` cache rows × `cols` columns starting at element
    /// offset `at` (a multiple of the head size into the row): the cache itself (stride kvDim) when it holds float32, else
    /// those elements widened into `scratch` (stride cols).
    /// </summary>
    readonly struct KvView
    {
        readonly nint _k, _v, _kScales, _vScales;
        readonly int _headDim, _kvHeads;
        readonly Element _format;

        enum Element { F32, Bf16, Int8 }

        public KvView(nint k, nint v, bool bf16) => (_k, _v, _format) = (k, v, bf16 ? Element.Bf16 : Element.F32);

        public KvView(nint k, nint v, nint kScales, nint vScales, int headDim, int kvHeads) =>
            (_k, _v, _kScales, _vScales, _headDim, _kvHeads, _format) = (k, v, kScales, vScales, headDim, kvHeads, Element.Int8);

        /// <summary>True when reads go through widening scratch (bf16, int8).</summary>
        public bool Widens => _format != Element.F32;
        public bool IsBf16 => _format == Element.Bf16;
        public bool IsInt8 => _format == Element.Int8;
        public nint KeysBase => _k;
        public nint ValuesBase => _v;
        public nint KeyScalesBase => _kScales;
        public nint ValueScalesBase => _vScales;

        public float* Keys(nint at, int rows, int cols, int kvDim, float* scratch, out int stride) => View(_k, _kScales, at, rows, cols, kvDim, scratch, out stride);
        public float* Values(nint at, int rows, int cols, int kvDim, float* scratch, out int stride) => View(_v, _vScales, at, rows, cols, kvDim, scratch, out stride);

        float* View(nint cache, nint scales, nint at, int rows, int cols, int kvDim, float* scratch, out int stride)
        {
            stride = cols;
            switch (_format)
            {
                case Element.F32:
                    stride = kvDim;
                    return (float*)cache + at;
                case Element.Bf16:
                    ushort* source = (ushort*)cache + at;
                    for (int j = 0; j < rows; j++)
                        Bf16.ToFloat(new ReadOnlySpan<ushort>(source + (nint)j * kvDim, cols), new Span<float>(scratch + (nint)j * cols, cols));
                    return scratch;
                default:
                    // Row j is cache position (at / kvDim + j); its heads start at column at % kvDim, one scale each.
                    sbyte* bytes = (sbyte*)cache + at;
                    float* scale = (float*)scales + at / kvDim * _kvHeads + at % kvDim / _headDim;
                    int heads = cols / _headDim;
                    for (int j = 0; j < rows; j++)
                    {
                        sbyte* row = bytes + (nint)j * kvDim;
                        if (Sse.IsSupported)
                            for (int b = 0; b < cols; b += 64) Sse.Prefetch0(row + b + PrefetchBytes);
                        for (int h = 0; h < heads; h++)
                            Int8Vectors.ToFloat(row + h * _headDim, scale[(nint)j * _kvHeads + h], scratch + (nint)j * cols + h * _headDim, _headDim);
                    }
                    return scratch;
            }
        }

        /// <summary>How far ahead the int8 widening prefetches (one thread's plain sequential read is latency-bound here).</summary>
        const int PrefetchBytes = 4096;
    }

    readonly record struct CacheDims(int Heads, int KvHeads, int HeadDim, int MaxT)
    {
        public int Group => Heads / KvHeads;
        public int QDim => Heads * HeadDim;
        public int KvDim => KvHeads * HeadDim;
    }

    /// <summary>
    /// One work item: rows [Row, Row + RowCount) of one slot against kv heads [KvHead, KvHead + KvHeadCount); or, for a
    /// decode row split by key range, its key chunks [FirstChunk, FirstChunk + ChunkCount) with their states at StateChunk.
    /// </summary>
    readonly record struct CacheItem(int Row, int RowCount, int KvHead, int KvHeadCount, bool Decode, int FirstChunk = 0, int ChunkCount = 0, int StateChunk = -1);

    /// <summary>
    /// How a CachedForward call is split over threads. Runs of consecutive rows sharing a slot are the unit.
    /// Prefill runs become (piece of rows, kv head) items, pieces cut only when there are too few items to keep
    /// every thread busy (each piece re-packs Kᵀ). Decode runs become (run, range of kv heads) items, ranges cut
    /// only as far as needed for the threads, so each item streams whole stretches of cache rows.
    /// </summary>
    readonly record struct CachePlan(CacheItem[] Items, int Count, int SplitChunks)
    {
        public static CachePlan Create(ReadOnlySpan<int> slots, ReadOnlySpan<int> positions, int group, int kvHeads)
        {
            int rows = slots.Length, threads = KernelThreads.Count;
            int decodeRuns = 0, prefillRows = 0;
            for (int r0 = 0, r1; r0 < rows; r0 = r1)
            {
                for (r1 = r0 + 1; r1 < rows && slots[r1] == slots[r0]; r1++) { }
                if ((r1 - r0) * group < PackedScoresMinQueries) decodeRuns++;
                else prefillRows += r1 - r0;
            }
            int headsPerDecodeItem = decodeRuns == 0 ? kvHeads : (kvHeads + Math.Min(kvHeads, CeilDiv(threads, decodeRuns)) - 1) / Math.Min(kvHeads, CeilDiv(threads, decodeRuns));
            int rowsPerBlock = Math.Max(1, BlockQ / group);
            int prefillPieceRows = Math.Max(rowsPerBlock, CeilDiv(prefillRows, Math.Max(1, CeilDiv(2 * threads, kvHeads))));
            prefillPieceRows = CeilDiv(prefillPieceRows, rowsPerBlock) * rowsPerBlock;

            // Fewer decode rows than threads and nothing else to do (batch 1): a lone row's key chunks are shared out
            // instead of its kv heads, so each thread streams one contiguous stretch of whole cache rows (two threads
            // reading alternate halves of every row measured about a third of the rate).
            int keySplits = prefillRows == 0 && decodeRuns < threads ? CeilDiv(threads, decodeRuns) : 1;

            var items = ArrayPool<CacheItem>.Shared.Rent(rows * Math.Max(kvHeads, keySplits));
            int count = 0, splitChunks = 0;
            for (int r0 = 0, r1; r0 < rows; r0 = r1)
            {
                for (r1 = r0 + 1; r1 < rows && slots[r1] == slots[r0]; r1++) { }
                int chunks = KeyChunks(positions[r0]), parts = Math.Min(keySplits, chunks);
                if (r1 - r0 == 1 && parts > 1)
                {
                    for (int p = 0; p < parts; p++)
                    {
                        int from = chunks * p / parts, to = chunks * (p + 1) / parts;
                        items[count++] = new CacheItem(r0, 1, 0, kvHeads, true, from, to - from, splitChunks + from);
                    }
                    splitChunks += chunks;
                    continue;
                }
                if ((r1 - r0) * group < PackedScoresMinQueries)
                {
                    for (int g = 0; g < kvHeads; g += headsPerDecodeItem)
                        items[count++] = new CacheItem(r0, r1 - r0, g, Math.Min(headsPerDecodeItem, kvHeads - g), true);
                    continue;
                }
                // Later pieces see more keys: list them first so the dynamic scheduler starts the long ones early.
                for (int end = r1; end > r0; end -= prefillPieceRows)
                {
                    int start = Math.Max(r0, end - prefillPieceRows);
                    for (int g = 0; g < kvHeads; g++) items[count++] = new CacheItem(start, end - start, g, 1, false);
                }
            }
            return new CachePlan(items, count, splitChunks);
        }

        static int CeilDiv(int a, int b) => (a + b - 1) / b;
    }
}
