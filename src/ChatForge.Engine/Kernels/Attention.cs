namespace ChatForge.Engine.Kernels;

/// <summary>
/// Causal self-attention with grouped-query heads (query head h reads kv head h / (Hq/Hkv)), scale 1/√hd,
/// computed flash-attention style: blocks of 64 queries against blocks of 64 keys with an online softmax
/// (running max and sum per query row, the accumulator rescaled when the max grows), so no T×T matrix exists.
/// Input rows are the fused projection [q (Hq·hd) | k (Hkv·hd) | v (Hkv·hd)]; output rows are [Hq·hd].
/// <c>lse[b, h, t]</c> is the logsumexp of row t's SCALED scores, which the backward uses to rebuild P.
/// </summary>
public static unsafe partial class Attention
{
    internal const int BlockQ = 64, BlockK = 64;

    public static void Forward(ReadOnlySpan<float> qkv, Span<float> output, Span<float> lse, int batch, int t, int nHeads, int nKvHeads, int headDim)
        => Forward(qkv, output, lse, batch, t, nHeads, nKvHeads, headDim, Simd.Level);

    /// <summary>As the public overload on an explicit path; tests run the Vector512 code even where it is only emulated.</summary>
    internal static void Forward(ReadOnlySpan<float> qkv, Span<float> output, Span<float> lse, int batch, int t, int nHeads, int nKvHeads, int headDim, SimdLevel level)
    {
        var dims = Dims.Create(batch, t, nHeads, nKvHeads, headDim);
        dims.Check(qkv.Length, (long)batch * t * dims.QkvDim, nameof(qkv), $"[{batch}, {t}, {dims.QkvDim}]");
        dims.Check(output.Length, (long)batch * t * dims.OutDim, nameof(output), $"[{batch}, {t}, {dims.OutDim}]");
        dims.Check(lse.Length, (long)batch * nHeads * t, nameof(lse), $"[{batch}, {nHeads}, {t}]");
        if (batch == 0 || t == 0) return;
        fixed (float* pQkv = qkv, pOut = output, pLse = lse)
        {
            nint q = (nint)pQkv, o = (nint)pOut, l = (nint)pLse;
            KernelThreads.For(0, batch * nHeads, bh => ForwardHead(level, dims, (float*)q, (float*)o, (float*)l, bh / nHeads, bh % nHeads));
        }
    }

    static void ForwardHead(SimdLevel level, Dims s, float* qkv, float* output, float* lse, int b, int h)
    {
        int T = s.T, hd = s.HeadDim, g = h / s.Group;
        float* rows = qkv + (nint)b * T * s.QkvDim;
        float* qBase = rows + h * hd;
        float* kBase = rows + (s.Heads + g) * hd;
        float* vBase = rows + (s.Heads + s.KvHeads + g) * hd;
        float* oBase = output + (nint)b * T * s.OutDim + h * hd;
        float* lseRow = lse + ((nint)b * s.Heads + h) * T;

        int keyBlocks = (T + BlockK - 1) / BlockK;
        int packed = keyBlocks * hd * BlockK;
        float* kT = ThreadScratch.Get(packed + BlockQ * BlockK + BlockQ * hd + 2 * BlockQ);
        float* scores = kT + packed;
        float* acc = scores + BlockQ * BlockK;
        float* rowMax = acc + BlockQ * hd;
        float* rowSum = rowMax + BlockQ;

        // Kᵀ once per head, pre-scaled, so every score block is a plain Q·Kᵀ product.
        PackTransposed(kBase, s.QkvDim, T, hd, s.Scale, kT);

        for (int i0 = 0; i0 < T; i0 += BlockQ)
        {
            int bq = Math.Min(BlockQ, T - i0);
            new Span<float>(rowMax, bq).Fill(float.NegativeInfinity);
            new Span<float>(rowSum, bq).Clear();
            new Span<float>(acc, bq * hd).Clear();
            float* qBlock = qBase + (nint)i0 * s.QkvDim;

            // Key blocks past the block's last query are fully masked: the loop stops before them.
            for (int j0 = 0; j0 < i0 + bq; j0 += BlockK)
            {
                int bk = Math.Min(BlockK, T - j0);
                AttentionBlocks.MatMul(level, qBlock, s.QkvDim, 1, kT + (nint)(j0 / BlockK) * hd * BlockK, BlockK, scores, BlockK, bq, BlockK, hd, false);
                for (int i = 0; i < bq; i++)
                    OnlineSoftmaxRow(level, scores + i * BlockK, Math.Min(bk, i0 + i - j0 + 1), bk, rowMax + i, rowSum + i, acc + i * hd, hd);
                AttentionBlocks.MatMul(level, scores, BlockK, 1, vBase + (nint)j0 * s.QkvDim, s.QkvDim, acc, hd, bq, hd, bk, true);
            }

            for (int i = 0; i < bq; i++)
            {
                AttentionBlocks.Scale(level, acc + i * hd, oBase + (nint)(i0 + i) * s.OutDim, hd, 1f / rowSum[i]);
                lseRow[i0 + i] = rowMax[i] + MathF.Log(rowSum[i]);
            }
        }
    }

    /// <summary>
    /// Flash-attention backward. dQkv is WRITTEN (every element of it). Work items are (batch, kv head) groups:
    /// all query heads sharing a kv head accumulate into the same dK/dV, so one thread owns the whole group and
    /// nothing races. Per key block (outer) and query block (inner): P = exp(Q·Kᵀ·scale − lse), dV += Pᵀ·dO,
    /// dP = dO·Vᵀ, dS = P∘(dP − D)·scale with D = rowsum(dO∘O), dQ += dS·K, dK += dSᵀ·Q.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> qkv, ReadOnlySpan<float> output, ReadOnlySpan<float> lse,
        Span<float> dQkv, int batch, int t, int nHeads, int nKvHeads, int headDim)
        => Backward(dOutput, qkv, output, lse, dQkv, batch, t, nHeads, nKvHeads, headDim, Simd.Level);

    internal static void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> qkv, ReadOnlySpan<float> output, ReadOnlySpan<float> lse,
        Span<float> dQkv, int batch, int t, int nHeads, int nKvHeads, int headDim, SimdLevel level)
    {
        var dims = Dims.Create(batch, t, nHeads, nKvHeads, headDim);
        dims.Check(dOutput.Length, (long)batch * t * dims.OutDim, nameof(dOutput), $"[{batch}, {t}, {dims.OutDim}]");
        dims.Check(qkv.Length, (long)batch * t * dims.QkvDim, nameof(qkv), $"[{batch}, {t}, {dims.QkvDim}]");
        dims.Check(output.Length, (long)batch * t * dims.OutDim, nameof(output), $"[{batch}, {t}, {dims.OutDim}]");
        dims.Check(lse.Length, (long)batch * nHeads * t, nameof(lse), $"[{batch}, {nHeads}, {t}]");
        dims.Check(dQkv.Length, (long)batch * t * dims.QkvDim, nameof(dQkv), $"[{batch}, {t}, {dims.QkvDim}]");
        if (batch == 0 || t == 0) return;
        fixed (float* pdO = dOutput, pQkv = qkv, pOut = output, pLse = lse, pdQkv = dQkv)
        {
            nint dO = (nint)pdO, q = (nint)pQkv, o = (nint)pOut, l = (nint)pLse, dq = (nint)pdQkv;
            KernelThreads.For(0, batch * nKvHeads, bg => BackwardGroup(level, dims,
                (float*)dO, (float*)q, (float*)o, (float*)l, (float*)dq, bg / nKvHeads, bg % nKvHeads));
        }
    }

    static void BackwardGroup(SimdLevel level, Dims s, float* dOutput, float* qkv, float* output, float* lse, float* dQkv, int b, int g)
    {
        int T = s.T, hd = s.HeadDim, group = s.Group, firstHead = g * group;
        nint rowOffset = (nint)b * T * s.QkvDim;
        float* kBase = qkv + rowOffset + (s.Heads + g) * hd;
        float* vBase = qkv + rowOffset + (s.Heads + s.KvHeads + g) * hd;
        float* dkBase = dQkv + rowOffset + (s.Heads + g) * hd;
        float* dvBase = dQkv + rowOffset + (s.Heads + s.KvHeads + g) * hd;

        float* d = ThreadScratch.Get(group * T + 2 * hd * BlockK + 2 * BlockK * hd + 2 * BlockQ * BlockK);
        float* kT = d + group * T;
        float* vT = kT + hd * BlockK;
        float* dK = vT + hd * BlockK;
        float* dV = dK + BlockK * hd;
        float* p = dV + BlockK * hd;
        float* dP = p + BlockQ * BlockK;

        // dQ accumulates over key blocks straight into dQkv: clear this group's q columns first.
        for (int i = 0; i < T; i++) new Span<float>(dQkv + rowOffset + (nint)i * s.QkvDim + firstHead * hd, group * hd).Clear();
        for (int hh = 0; hh < group; hh++)
        {
            nint headOffset = (nint)b * T * s.OutDim + (firstHead + hh) * hd;
            for (int i = 0; i < T; i++)
                d[hh * T + i] = AttentionBlocks.Dot(level, dOutput + headOffset + (nint)i * s.OutDim, output + headOffset + (nint)i * s.OutDim, hd);
        }

        for (int j0 = 0; j0 < T; j0 += BlockK)
        {
            int bk = Math.Min(BlockK, T - j0);
            float* kBlock = kBase + (nint)j0 * s.QkvDim;
            PackTransposedBlock(kBlock, s.QkvDim, bk, hd, s.Scale, kT);
            PackTransposedBlock(vBase + (nint)j0 * s.QkvDim, s.QkvDim, bk, hd, 1f, vT);
            new Span<float>(dK, bk * hd).Clear();
            new Span<float>(dV, bk * hd).Clear();

            for (int hh = 0; hh < group; hh++)
            {
                int h = firstHead + hh;
                float* qBase = qkv + rowOffset + h * hd;
                float* dqBase = dQkv + rowOffset + h * hd;
                float* doBase = dOutput + (nint)b * T * s.OutDim + h * hd;
                float* lseRow = lse + ((nint)b * s.Heads + h) * T;
                float* dRow = d + hh * T;

                // Query blocks that end before this key block are fully masked: start at the block holding j0.
                for (int i0 = j0 / BlockQ * BlockQ; i0 < T; i0 += BlockQ)
                {
                    int bq = Math.Min(BlockQ, T - i0);
                    float* qBlock = qBase + (nint)i0 * s.QkvDim;
                    float* doBlock = doBase + (nint)i0 * s.OutDim;

                    AttentionBlocks.MatMul(level, qBlock, s.QkvDim, 1, kT, BlockK, p, BlockK, bq, BlockK, hd, false);
                    for (int i = 0; i < bq; i++)
                    {
                        float* row = p + i * BlockK;
                        int valid = Math.Clamp(i0 + i - j0 + 1, 0, bk);
                        SoftmaxRows.ExpShiftSum(level, row, valid, lseRow[i0 + i]);
                        new Span<float>(row + valid, BlockK - valid).Clear();
                    }
                    AttentionBlocks.MatMul(level, p, 1, BlockK, doBlock, s.OutDim, dV, hd, bk, hd, bq, true);
                    AttentionBlocks.MatMul(level, doBlock, s.OutDim, 1, vT, BlockK, dP, BlockK, bq, BlockK, hd, false);
                    for (int i = 0; i < bq; i++)
                        AttentionBlocks.SoftmaxGrad(level, p + i * BlockK, dP + i * BlockK, BlockK, dRow[i0 + i], s.Scale);
                    AttentionBlocks.MatMul(level, dP, BlockK, 1, kBlock, s.QkvDim, dqBase + (nint)i0 * s.QkvDim, s.QkvDim, bq, hd, bk, true);
                    AttentionBlocks.MatMul(level, dP, 1, BlockK, qBlock, s.QkvDim, dK, hd, bk, hd, bq, true);
                }
            }

            for (int j = 0; j < bk; j++)
            {
                new Span<float>(dK + j * hd, hd).CopyTo(new Span<float>(dkBase + (nint)(j0 + j) * s.QkvDim, hd));
                new Span<float>(dV + j * hd, hd).CopyTo(new Span<float>(dvBase + (nint)(j0 + j) * s.QkvDim, hd));
            }
        }
    }

    /// <summary>
    /// One query row meets one key block: the first <paramref name="valid"/> of <paramref name="bk"/> scores are
    /// unmasked. Turns them into unnormalised probabilities exp(s − newMax) in place (masked ones into 0),
    /// rescales the row's accumulator and sum by exp(oldMax − newMax) and records the new max.
    /// </summary>
    static void OnlineSoftmaxRow(SimdLevel level, float* scores, int valid, int bk, float* max, float* sum, float* acc, int hd)
    {
        if (valid <= 0)
        {
            new Span<float>(scores, bk).Clear();
            return;
        }
        float newMax = MathF.Max(*max, SoftmaxRows.Max(level, scores, valid));
        float alpha = MathF.Exp(*max - newMax); // 0 on the first block: oldMax is −∞
        float blockSum = SoftmaxRows.ExpShiftSum(level, scores, valid, newMax);
        if (valid < bk) new Span<float>(scores + valid, bk - valid).Clear();
        *sum = *sum * alpha + blockSum;
        *max = newMax;
        if (alpha != 1f) AttentionBlocks.Scale(level, acc, acc, hd, alpha);
    }

    /// <summary>
    /// Copies rows [0, count) of a strided [count, hd] matrix into blocks of BlockK columns, dst[block][d][j] =
    /// src[block·BlockK + j][d]·scale, zero-padding the last block.
    /// </summary>
    internal static void PackTransposed(float* src, int stride, int count, int hd, float scale, float* dst)
    {
        for (int j0 = 0; j0 < count; j0 += BlockK)
            PackTransposedBlock(src + (nint)j0 * stride, stride, Math.Min(BlockK, count - j0), hd, scale, dst + (nint)(j0 / BlockK) * hd * BlockK);
    }

    internal static void PackTransposedBlock(float* src, int stride, int bk, int hd, float scale, float* dst)
    {
        if (bk < BlockK) new Span<float>(dst, hd * BlockK).Clear();
        for (int j = 0; j < bk; j++)
        {
            float* row = src + (nint)j * stride;
            for (int d = 0; d < hd; d++) dst[d * BlockK + j] = row[d] * scale;
        }
    }

    /// <summary>Validated attention shape, shared by the forward and backward work items.</summary>
    readonly record struct Dims(int Batch, int T, int Heads, int KvHeads, int HeadDim)
    {
        public int Group => Heads / KvHeads;
        public int QkvDim => (Heads + 2 * KvHeads) * HeadDim;
        public int OutDim => Heads * HeadDim;
        public int KvDim => KvHeads * HeadDim;
        public float Scale => 1f / MathF.Sqrt(HeadDim);

        public static Dims Create(int batch, int t, int nHeads, int nKvHeads, int headDim)
        {
            if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, "Attention: batch must be non-negative.");
            if (t < 0) throw new ArgumentOutOfRangeException(nameof(t), t, "Attention: sequence length must be non-negative.");
            CheckHeads(nHeads, nKvHeads, headDim);
            return new Dims(batch, t, nHeads, nKvHeads, headDim);
        }

        public void Check(int actual, long expected, string name, string shape)
        {
            if (actual != expected)
                throw new ArgumentException($"Attention: {name} has {actual} floats but shape {shape} needs {expected} (batch={Batch}, t={T}, heads={Heads}, kv_heads={KvHeads}, head_dim={HeadDim}).", name);
        }
    }

    static void CheckHeads(int nHeads, int nKvHeads, int headDim)
    {
        if (nHeads <= 0 || nKvHeads <= 0 || headDim <= 0)
            throw new ArgumentException($"Attention: heads ({nHeads}), kv_heads ({nKvHeads}) and head_dim ({headDim}) must be positive.");
        if (nHeads % nKvHeads != 0)
            throw new ArgumentException($"Attention: heads ({nHeads}) must be a multiple of kv_heads ({nKvHeads}).");
    }
}
