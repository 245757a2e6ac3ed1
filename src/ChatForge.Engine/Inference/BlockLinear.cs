using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ChatForge.Engine.Kernels;

namespace ChatForge.Engine.Inference;

/// <summary>ggml block formats that have a matvec kernel working on the blocks (values are not ggml's type ids).</summary>
public enum BlockFormat { Q8_0, Q4_0, Q4_K, Q6_K }

/// <summary>
/// A weight W [out, in] stored in one of ggml's block formats, multiplied without dequantising the matrix (decode).
/// Every format is read as 32-weight groups whose values are w = scale · q + offset with small integer q (the scale
/// may change half-way, for Q6_K's 16-weight sub-blocks). The activations x are quantised per 32 values to int8
/// with an fp32 scale dx = absmax / 127 (ggml's Q8_0), so each group is one int8 dot product:
///   Σ w·x ≈ dx · (scale · Σ q·qx) + offset · dx · Σ qx.
/// The only error on top of the weights' own is that activation rounding: |qx·dx − x| ≤ absmax(x's block) / 254.
/// Subclasses unpack a group (scalar path, dequantisation) and give an AVX2 dot product on their packed bytes;
/// this class quantises x, splits the output rows over the kernel threads (<see cref="RowBands"/>), and for
/// prefill (more than <see cref="RowBands.DecodeMaxRows"/> rows) dequantises into a scratch matrix for the packed GEMM.
/// </summary>
public abstract unsafe class BlockLinear
{
    /// <summary>Weights per group, and activation values per int8 block.</summary>
    public const int Group = 32;

    [ThreadStatic] static sbyte[]? t_qx;
    [ThreadStatic] static float[]? t_dx, t_xsum;

    public int Out { get; }
    public int In { get; }
    public abstract BlockFormat Format { get; }
    /// <summary>Bytes a matvec reads (the kernel's own arrays).</summary>
    public abstract long Bytes { get; }
    protected int GroupsPerRow => In / Group;

    /// <summary>Checks the shape against the format's block size (<paramref name="block"/> weights per block of <paramref name="blockBytes"/>) and the byte count of <paramref name="blocks"/>.</summary>
    protected BlockLinear(string name, int outDim, int inDim, int block, int blockBytes, long bytes)
    {
        string format = GetType().Name.Replace("Linear", "");
        if (outDim <= 0 || inDim <= 0) throw new ArgumentException($"{format} tensor '{name}': shape [{outDim}, {inDim}] must be positive.");
        if (inDim % block != 0) throw new ArgumentException($"{format} tensor '{name}' [{outDim}, {inDim}]: row length {inDim} is not a multiple of the block size {block}.");
        long expected = (long)outDim * inDim / block * blockBytes;
        if (bytes != expected) throw new ArgumentException($"{format} tensor '{name}' [{outDim}, {inDim}] needs {expected} bytes of blocks, got {bytes}.");
        Out = outDim; In = inDim;
    }

    /// <summary>
    /// Group <paramref name="group"/> (row-major over [Out, In / 32]) as integers: weight i = q[i] · (i &lt; 16 ? scaleLo : scaleHi) + offset.
    /// </summary>
    protected abstract void UnpackGroup(long group, Span<sbyte> q, out float scaleLo, out float scaleHi, out float offset);

    /// <summary>Row <paramref name="row"/> · one quantised activation row (AVX2); xsum[b] = dx[b] · Σ qx of block b.</summary>
    protected abstract float DotAvx2(int row, sbyte* qx, float* dx, float* xsum);

    /// <summary>W dequantised to fp32 [out, in] (prefill: once per forward, so split over the kernel threads like a matvec).</summary>
    public void Dequantize(Span<float> destination)
    {
        if (destination.Length < (long)Out * In) throw new ArgumentException($"{GetType().Name}: destination holds {destination.Length} floats, [{Out}, {In}] needs {(long)Out * In}.");
        fixed (float* py = destination)
        {
            nint ya = (nint)py;
            RowBands.For((long)Out * In, Out, (j0, j1) =>
            {
                Span<sbyte> q = stackalloc sbyte[Group];
                for (long g = (long)j0 * GroupsPerRow; g < (long)j1 * GroupsPerRow; g++)
                {
                    UnpackGroup(g, q, out float lo, out float hi, out float offset);
                    float* y = (float*)ya + g * Group;
                    for (int i = 0; i < Group / 2; i++) y[i] = q[i] * lo + offset;
                    for (int i = Group / 2; i < Group; i++) y[i] = q[i] * hi + offset;
                }
            });
        }
    }

    float DotScalar(int row, sbyte* qx, float* dx, float* xsum)
    {
        Span<sbyte> q = stackalloc sbyte[Group];
        float sum = 0;
        for (int b = 0; b < GroupsPerRow; b++)
        {
            UnpackGroup((long)row * GroupsPerRow + b, q, out float lo, out float hi, out float offset);
            int dotLo = 0, dotHi = 0;
            for (int i = 0; i < Group / 2; i++) dotLo += q[i] * qx[b * Group + i];
            for (int i = Group / 2; i < Group; i++) dotHi += q[i] * qx[b * Group + i];
            sum += (dotLo * lo + dotHi * hi) * dx[b] + offset * xsum[b];
        }
        return sum;
    }

    /// <summary>Quantises one activation row to int8 blocks of 32 (fp32 scales: activations are never stored); xsum[b] = scale · Σ q.</summary>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<sbyte> q, Span<float> scale, Span<float> xsum)
    {
        for (int b = 0; b < scale.Length; b++)
        {
            var xb = x.Slice(b * Group, Group);
            float max = 0;
            foreach (float v in xb) max = MathF.Max(max, MathF.Abs(v));
            float d = max / 127f, inv = d > 0 ? 1f / d : 0f;
            int sum = 0;
            for (int i = 0; i < Group; i++)
            {
                int qi = (int)Math.Clamp(MathF.Round(xb[i] * inv), -127, 127);
                q[b * Group + i] = (sbyte)qi;
                sum += qi;
            }
            scale[b] = d;
            xsum[b] = d * sum;
        }
    }

    /// <summary>y[m, Out] = (accumulate ? y : 0) + x[m, In]·Wᵀ; <paramref name="scratch"/> holds ≥ Out·In floats for m &gt; <see cref="RowBands.DecodeMaxRows"/>.</summary>
    public void Apply(ReadOnlySpan<float> x, Span<float> y, int m, bool accumulate = false, float[]? scratch = null)
    {
        if (x.Length < (long)m * In || y.Length < (long)m * Out)
            throw new ArgumentException($"{GetType().Name}: x holds {x.Length} floats and y {y.Length}; [{m}, {In}] → [{m}, {Out}] needs {m * In} and {m * Out}.");
        if (m > RowBands.DecodeMaxRows)
        {
            scratch ??= new float[(long)Out * In];
            Dequantize(scratch);
            Gemm.MatMul(x[..(m * In)], scratch.AsSpan(0, Out * In), y, m, Out, In, transB: true, accumulate: accumulate);
            return;
        }
        int blocks = GroupsPerRow;
        if (t_qx is null || t_qx.Length < m * In) t_qx = GC.AllocateUninitializedArray<sbyte>(m * In, pinned: true);
        if (t_dx is null || t_dx.Length < m * blocks) { t_dx = new float[m * blocks]; t_xsum = new float[m * blocks]; }
        var qx = t_qx; var dx = t_dx; var xsum = t_xsum!;
        for (int r = 0; r < m; r++)
            QuantizeRow(x.Slice(r * In, In), qx.AsSpan(r * In, In), dx.AsSpan(r * blocks, blocks), xsum.AsSpan(r * blocks, blocks));
        bool avx2 = Simd.Level >= SimdLevel.Vector256 && Avx2.IsSupported;
        fixed (sbyte* px = qx)
        fixed (float* sx = dx, ssum = xsum, py = y)
        {
            nint xa = (nint)px, sxa = (nint)sx, suma = (nint)ssum, ya = (nint)py;
            int outDim = Out, inDim = In;
            RowBands.For((long)m * Out * In, Out, (j0, j1) =>
            {
                for (int j = j0; j < j1; j++)
                    for (int r = 0; r < m; r++)
                    {
                        sbyte* xr = (sbyte*)xa + (nint)r * inDim;
                        float* xs = (float*)sxa + (nint)r * blocks, xt = (float*)suma + (nint)r * blocks;
                        float v = avx2 ? DotAvx2(j, xr, xs, xt) : DotScalar(j, xr, xs, xt);
                        float* yj = (float*)ya + (nint)r * outDim + j;
                        *yj = accumulate ? *yj + v : v;
                    }
            });
        }
    }

    /// <summary>
    /// The eight int32 sums Σ q·qx over adjacent 4-value groups of one 32-value block, q unsigned (nibbles, ≤ 15):
    /// u8×s8 MultiplyAddAdjacent to s16 pairs (no saturation: 2·15·127 &lt; 2¹⁵), then pairs summed to int32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected static Vector256<int> DotUnsigned(Vector256<byte> q, sbyte* x) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, Avx.LoadVector256(x)), Vector256.Create((short)1));

    /// <summary>
    /// The same for signed weights w (|w| ≤ 127): u8×s8 products need an unsigned operand, so |x| with x's sign moved
    /// onto w (exact); the s16 pair sums are then weighted by <paramref name="pairWeights"/> (ones, or a 16-value
    /// half's scale) and summed to int32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected static Vector256<int> DotSigned(Vector256<sbyte> w, sbyte* x, Vector256<short> pairWeights)
    {
        var xq = Avx.LoadVector256(x);
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(xq), Avx2.Sign(w, xq)), pairWeights);
    }

    /// <summary>The first out·in values of <paramref name="weight"/>, or an error naming the tensor when it is shorter.</summary>
    protected static ReadOnlySpan<float> Weights(ReadOnlySpan<float> weight, int outDim, int inDim, string name) =>
        weight.Length >= (long)outDim * inDim ? weight[..(outDim * inDim)]
        : throw new ArgumentException($"Tensor '{name}' [{outDim}, {inDim}] needs {(long)outDim * inDim} weights, got {weight.Length}.");

    /// <summary>A pinned (never moved) array and its address, for the kernels' pointer loops.</summary>
    protected static T[] Pinned<T>(long length, out T* address) where T : unmanaged
    {
        var array = GC.AllocateArray<T>(checked((int)length), pinned: true);
        address = (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        return array;
    }

    /// <summary>A kernel for <paramref name="format"/> on a GGUF tensor's raw blocks; <paramref name="name"/> is named in errors.</summary>
    public static BlockLinear FromBlocks(BlockFormat format, ReadOnlySpan<byte> blocks, int outDim, int inDim, string name) => format switch
    {
        BlockFormat.Q8_0 => new Q8_0Linear(blocks, outDim, inDim, name),
        BlockFormat.Q4_0 => new Q4_0Linear(blocks, outDim, inDim, name),
        BlockFormat.Q4_K => new Q4_KLinear(blocks, outDim, inDim, name),
        BlockFormat.Q6_K => new Q6_KLinear(blocks, outDim, inDim, name),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };
}
