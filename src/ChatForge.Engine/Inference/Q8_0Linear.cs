using System.Buffers.Binary;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ChatForge.Engine.Kernels;

namespace ChatForge.Engine.Inference;

/// <summary>
/// A weight W [out, in] in ggml's Q8_0 format: blocks of 32 int8 weights, each with its own scale (absmax / 127,
/// rounded to fp16 as ggml stores it). Decode multiplies without dequantising: each x row is itself quantised to
/// Q8_0 blocks and every block pair is an int8 dot product (AVX2: |x|·sign(w, x) through MultiplyAddAdjacent
/// u8×s8 → s16, then s16 pairs → s32) scaled by d_w·d_x, reading 34 bytes per 32 weights instead of 64 for bf16.
/// Quantising the fp32 weights of a GGUF Q8_0 tensor gives back its blocks exactly (the largest |q| of a block is 127,
/// so absmax / 127 is the stored scale), so a Q8_0 file is served as it was quantised. Prefill (many rows)
/// dequantises into a scratch matrix and uses the packed GEMM.
/// The blocks are kept split into int8 values and float scales so the vector loads stay aligned.
/// </summary>
public sealed unsafe class Q8_0Linear
{
    public const int Block = 32;

    readonly sbyte[] _q;
    readonly float[] _scale;

    [ThreadStatic] static sbyte[]? t_qx;
    [ThreadStatic] static float[]? t_dx;

    public int Out { get; }
    public int In { get; }
    public long Bytes => _q.LongLength + _scale.LongLength * sizeof(float);

    Q8_0Linear(int outDim, int inDim)
    {
        if (inDim % Block != 0) throw new ArgumentException($"Q8_0: row length {inDim} is not a multiple of {Block}.");
        Out = outDim; In = inDim;
        _q = GC.AllocateUninitializedArray<sbyte>(outDim * inDim, pinned: true);
        _scale = new float[outDim * inDim / Block];
    }

    /// <summary>Quantises fp32 weights [out, in] the way ggml does.</summary>
    public Q8_0Linear(ReadOnlySpan<float> weight, int outDim, int inDim) : this(outDim, inDim)
    {
        if (weight.Length < (long)outDim * inDim) throw new ArgumentException($"Q8_0: [{outDim}, {inDim}] needs {(long)outDim * inDim} weights, got {weight.Length}.");
        for (int b = 0; b < _scale.Length; b++)
            _scale[b] = QuantizeBlock(weight.Slice(b * Block, Block), _q.AsSpan(b * Block, Block), halfScale: true);
    }

    /// <summary>From a GGUF Q8_0 tensor's raw bytes (fp16 scale + 32 int8 per block), ne[0] = <paramref name="inDim"/> (the row length).</summary>
    public Q8_0Linear(ReadOnlySpan<byte> blocks, int outDim, int inDim) : this(outDim, inDim)
    {
        long expected = (long)outDim * inDim / Block * 34;
        if (blocks.Length != expected) throw new ArgumentException($"Q8_0: [{outDim}, {inDim}] needs {expected} bytes, got {blocks.Length}.");
        for (int b = 0; b < _scale.Length; b++)
        {
            var block = blocks.Slice(b * 34, 34);
            _scale[b] = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            for (int i = 0; i < Block; i++) _q[b * Block + i] = (sbyte)block[2 + i];
        }
    }

    /// <summary>One block: scale = absmax / 127 (optionally rounded to fp16), q = round(x / scale). Returns the scale.</summary>
    static float QuantizeBlock(ReadOnlySpan<float> x, Span<sbyte> q, bool halfScale)
    {
        float max = 0;
        foreach (float v in x) max = MathF.Max(max, MathF.Abs(v));
        float d = max / 127f;
        if (halfScale) d = (float)(Half)d;
        float inv = d > 0 ? 1f / d : 0f;
        for (int i = 0; i < x.Length; i++) q[i] = (sbyte)Math.Clamp(MathF.Round(x[i] * inv), -127, 127);
        return d;
    }

    /// <summary>Quantises one activation row to Q8_0 blocks (fp32 scales: activations are never stored).</summary>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<sbyte> q, Span<float> scale)
    {
        for (int b = 0; b < scale.Length; b++) scale[b] = QuantizeBlock(x.Slice(b * Block, Block), q.Slice(b * Block, Block), halfScale: false);
    }

    /// <summary>W dequantised to fp32 [out, in].</summary>
    public void Dequantize(Span<float> destination)
    {
        for (int b = 0; b < _scale.Length; b++)
            for (int i = 0; i < Block; i++) destination[b * Block + i] = _q[b * Block + i] * _scale[b];
    }

    /// <summary>y[m, Out] = (accumulate ? y : 0) + x[m, In]·Wᵀ; <paramref name="scratch"/> holds ≥ Out·In floats for m &gt; 8.</summary>
    public void Apply(ReadOnlySpan<float> x, Span<float> y, int m, bool accumulate = false, float[]? scratch = null)
    {
        if (x.Length < m * In || y.Length < m * Out)
            throw new ArgumentException($"Q8_0Linear: x holds {x.Length} floats and y {y.Length}; [{m}, {In}] → [{m}, {Out}] needs {m * In} and {m * Out}.");
        if (m > RowBands.DecodeMaxRows)
        {
            scratch ??= new float[(long)Out * In];
            Dequantize(scratch);
            Gemm.MatMul(x[..(m * In)], scratch.AsSpan(0, Out * In), y, m, Out, In, transB: true, accumulate: accumulate);
            return;
        }
        int blocks = In / Block;
        if (t_qx is null || t_qx.Length < m * In) t_qx = GC.AllocateUninitializedArray<sbyte>(m * In, pinned: true);
        if (t_dx is null || t_dx.Length < m * blocks) t_dx = new float[m * blocks];
        var qx = t_qx; var dx = t_dx;
        for (int r = 0; r < m; r++) QuantizeRow(x.Slice(r * In, In), qx.AsSpan(r * In, In), dx.AsSpan(r * blocks, blocks));
        bool avx2 = Simd.Level >= SimdLevel.Vector256 && Avx2.IsSupported;
        fixed (sbyte* pw = _q, px = qx)
        fixed (float* sw = _scale, sx = dx, py = y)
        {
            nint wa = (nint)pw, xa = (nint)px, swa = (nint)sw, sxa = (nint)sx, ya = (nint)py;
            RowBands.For((long)m * Out * In, Out, (j0, j1) =>
            {
                for (int j = j0; j < j1; j++)
                {
                    sbyte* w = (sbyte*)wa + (nint)j * In;
                    float* ws = (float*)swa + (nint)j * blocks;
                    for (int r = 0; r < m; r++)
                    {
                        sbyte* xr = (sbyte*)xa + (nint)r * In;
                        float* xs = (float*)sxa + (nint)r * blocks;
                        float v = avx2 ? DotAvx2(w, ws, xr, xs, blocks) : DotScalar(w, ws, xr, xs, blocks);
                        float* yj = (float*)ya + (nint)r * Out + j;
                        *yj = accumulate ? *yj + v : v;
                    }
                }
            });
        }
    }

    static float DotScalar(sbyte* w, float* ws, sbyte* x, float* xs, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            int dot = 0;
            for (int i = 0; i < Block; i++) dot += w[b * Block + i] * x[b * Block + i];
            sum += dot * ws[b] * xs[b];
        }
        return sum;
    }

    static float DotAvx2(sbyte* w, float* ws, sbyte* x, float* xs, int blocks)
    {
        var ones = Vector256.Create((short)1);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++)
        {
            var wq = Avx.LoadVector256(w + b * Block);
            var xq = Avx.LoadVector256(x + b * Block);
            // u8×s8 products need an unsigned operand: |x| with x's sign moved onto w (exact; |x|, |w| ≤ 127 keep the s16 sums from saturating).
            var pairs = Avx2.MultiplyAddAdjacent(Avx2.Abs(xq), Avx2.Sign(wq, xq));
            var dots = Avx2.MultiplyAddAdjacent(pairs, ones);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dots), Vector256.Create(ws[b] * xs[b]), acc);
        }
        return Vector256.Sum(acc);
    }
}
