using System.Buffers.Binary;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ChatForge.Engine.Kernels;

namespace ChatForge.Import.Gguf;

/// <summary>
/// A weight W [out, in] in ggml's Q8_0 format (blocks of 32 int8 weights with one scale), multiplied
/// without dequantising: each x row is itself quantised to Q8_0 blocks, then every block pair is an int8
/// dot product (AVX2: |x| · sign(w, x) with MultiplyAddAdjacent u8×s8 → s16, then s16 pairs → s32)
/// scaled by d_w·d_x. Decode reads 34 bytes per 32 weights instead of 128 for fp32.
/// The blocks are kept split into int8 values and float scales so the vector loads stay aligned.
/// </summary>
public sealed unsafe class Q8_0Matrix
{
    const int Block = 32;
    readonly sbyte[] _q;
    readonly float[] _scale;

    public int Out { get; }
    public int In { get; }
    public long Bytes => _q.LongLength + _scale.LongLength * sizeof(float);

    /// <summary>From a GGUF Q8_0 tensor's raw bytes, ne[0] = <paramref name="inDim"/> (the row length).</summary>
    public Q8_0Matrix(ReadOnlySpan<byte> blocks, int outDim, int inDim)
    {
        if (inDim % Block != 0) throw new ArgumentException($"Q8_0: row length {inDim} is not a multiple of {Block}.");
        long expected = (long)outDim * inDim / Block * 34;
        if (blocks.Length != expected) throw new ArgumentException($"Q8_0: [{outDim}, {inDim}] needs {expected} bytes, got {blocks.Length}.");
        Out = outDim; In = inDim;
        _q = GC.AllocateUninitializedArray<sbyte>(outDim * inDim, pinned: true);
        _scale = new float[outDim * inDim / Block];
        for (int b = 0; b < _scale.Length; b++)
        {
            var block = blocks.Slice(b * 34, 34);
            _scale[b] = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            for (int i = 0; i < Block; i++) _q[b * Block + i] = (sbyte)block[2 + i];
        }
    }

    /// <summary>Quantises one activation row to Q8_0 (absmax / 127 per block of 32).</summary>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<sbyte> q, Span<float> scale)
    {
        for (int b = 0; b < scale.Length; b++)
        {
            var xb = x.Slice(b * Block, Block);
            float max = 0;
            foreach (float v in xb) max = MathF.Max(max, MathF.Abs(v));
            float d = max / 127f, inv = d > 0 ? 1f / d : 0f;
            scale[b] = d;
            for (int i = 0; i < Block; i++) q[b * Block + i] = (sbyte)MathF.Round(xb[i] * inv);
        }
    }

    /// <summary>y[m, Out] = x[m, In]·Wᵀ.</summary>
    public void Apply(ReadOnlySpan<float> x, Span<float> y, int m)
    {
        if (x.Length < m * In || y.Length < m * Out)
            throw new ArgumentException($"Q8_0Matrix: x holds {x.Length} floats and y {y.Length}; [{m}, {In}] → [{m}, {Out}] needs {m * In} and {m * Out}.");
        var qx = GC.AllocateUninitializedArray<sbyte>(m * In, pinned: true);
        var dx = new float[m * In / Block];
        for (int r = 0; r < m; r++) QuantizeRow(x.Slice(r * In, In), qx.AsSpan(r * In, In), dx.AsSpan(r * In / Block, In / Block));
        bool avx2 = Simd.Level >= SimdLevel.Vector256 && Avx2.IsSupported;
        int blocks = In / Block, threads = Math.Max(1, Math.Min(KernelThreads.Count, Out / 64));
        int band = (Out + threads - 1) / threads;
        var result = new float[m * Out];
        fixed (sbyte* pw = _q, px = qx)
        fixed (float* sw = _scale, sx = dx, py = result)
        {
            nint wa = (nint)pw, xa = (nint)px, swa = (nint)sw, sxa = (nint)sx, ya = (nint)py;
            KernelThreads.For(0, threads, t =>
            {
                for (int j = t * band; j < Math.Min(Out, (t + 1) * band); j++)
                    for (int r = 0; r < m; r++)
                    {
                        sbyte* w = (sbyte*)wa + (nint)j * In, xr = (sbyte*)xa + (nint)r * In;
                        float* ws = (float*)swa + (nint)j * blocks, xs = (float*)sxa + (nint)r * blocks;
                        ((float*)ya)[r * Out + j] = avx2 ? DotAvx2(w, ws, xr, xs, blocks) : DotScalar(w, ws, xr, xs, blocks);
                    }
            });
        }
        result.AsSpan().CopyTo(y);
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
