using System.Buffers.Binary;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Inference;

/// <summary>
/// A weight W [out, in] in ggml's Q4_0 format: blocks of 32 weights = fp16 d + 16 bytes of nibbles (low nibbles are
/// weights 0..15, high nibbles 16..31), w = d·(nibble − 8): 18 bytes per 32 weights, a quarter of bf16.
/// The nibbles stay packed; AVX2 unpacks 16 bytes into 32 unsigned values and multiplies them with the int8
/// activations directly (u8×s8 MultiplyAddAdjacent, no sign trick: nibbles ≤ 15 keep the s16 sums far from saturating);
/// the −8 comes back as −8·d·dx·Σ qx, one multiply per block.
/// </summary>
public sealed unsafe class Q4_0Linear : BlockLinear
{
    public const int Block = 32, BlockBytes = 18;

    readonly byte[] _qs;
    readonly float[] _d;
    readonly byte* _pqs;
    readonly float* _pd;

    public override BlockFormat Format => BlockFormat.Q4_0;
    public override long Bytes => _qs.LongLength + _d.LongLength * sizeof(float);

    /// <summary>From a GGUF Q4_0 tensor's raw bytes, ne[0] = <paramref name="inDim"/> (the row length).</summary>
    public Q4_0Linear(ReadOnlySpan<byte> blocks, int outDim, int inDim, string name = "weight")
        : base(name, outDim, inDim, Block, BlockBytes, blocks.Length)
    {
        long count = (long)outDim * inDim / Block;
        _qs = Pinned(count * 16, out _pqs);
        _d = Pinned(count, out _pd);
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BlockBytes, BlockBytes);
            _d[b] = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            block.Slice(2, 16).CopyTo(_qs.AsSpan(b * 16, 16));
        }
    }

    protected override void UnpackGroup(long group, Span<sbyte> q, out float scaleLo, out float scaleHi, out float offset)
    {
        var qs = _qs.AsSpan((int)(group * 16), 16);
        for (int i = 0; i < 16; i++)
        {
            q[i] = (sbyte)((qs[i] & 0x0F) - 8);
            q[i + 16] = (sbyte)((qs[i] >> 4) - 8);
        }
        scaleLo = scaleHi = _d[group];
        offset = 0;
    }

    protected override float DotAvx2(int row, sbyte* x, float* xs, float* xsum)
    {
        int blocks = GroupsPerRow;
        byte* qs = _pqs + (nint)row * blocks * 16;
        float* d = _pd + (nint)row * blocks;
        var low = Vector128.Create((byte)0x0F);
        Vector256<float> acc = default, acc2 = default; // even and odd blocks: two FMA chains
        float bias = 0;
        int b = 0;
        for (; b + 1 < blocks; b += 2)
        {
            acc = Fma.MultiplyAdd(BlockDot(qs + b * 16, x + b * Block, low), Vector256.Create(d[b] * xs[b]), acc);
            acc2 = Fma.MultiplyAdd(BlockDot(qs + (b + 1) * 16, x + (b + 1) * Block, low), Vector256.Create(d[b + 1] * xs[b + 1]), acc2);
        }
        if (b < blocks) acc = Fma.MultiplyAdd(BlockDot(qs + b * 16, x + b * Block, low), Vector256.Create(d[b] * xs[b]), acc);
        for (b = 0; b < blocks; b++) bias += d[b] * xsum[b];
        return Vector256.Sum(acc + acc2) - 8 * bias;
    }

    /// <summary>Σ nibble·qx of one block, as eight int32 partial sums converted to float.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    static Vector256<float> BlockDot(byte* qs, sbyte* x, Vector128<byte> low)
    {
        var packed = Sse2.LoadVector128(qs);
        var nibbles = Vector256.Create(packed & low, Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & low);
        return Avx.ConvertToVector256Single(DotUnsigned(nibbles, x));
    }
}
