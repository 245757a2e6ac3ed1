using System.Buffers.Binary;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Inference;

/// <summary>
/// A weight W [out, in] in ggml's Q4_K format: super-blocks of 256 weights = fp16 d, fp16 dmin, 12 bytes packing eight
/// six-bit (scale, min) pairs, 128 bytes of nibbles; 32-weight sub-block j has w = d·sc_j·nibble − dmin·m_j
/// (144 bytes per 256 weights, 4.5 bits a weight). Each 32 bytes of nibbles hold two sub-blocks (low nibbles, then
/// high), which line up with two 32-value activation blocks, so every sub-block is one u8×s8 dot product scaled by
/// d·sc_j·dx, and the mins come back as dmin·Σ m_j·dx·Σ qx. The six-bit scales are unpacked to bytes on load
/// (16 bytes instead of 12), and d, dmin kept as floats: 152 bytes read per 256 weights.
/// </summary>
public sealed unsafe class Q4_KLinear : BlockLinear
{
    public const int Block = 256, BlockBytes = 144;

    readonly byte[] _qs, _scaleMin;
    readonly float[] _d;
    readonly byte* _pqs, _psm;
    readonly float* _pd;

    public override BlockFormat Format => BlockFormat.Q4_K;
    public override long Bytes => _qs.LongLength + _scaleMin.LongLength + _d.LongLength * sizeof(float);

    /// <summary>From a GGUF Q4_K tensor's raw bytes, ne[0] = <paramref name="inDim"/> (the row length).</summary>
    public Q4_KLinear(ReadOnlySpan<byte> blocks, int outDim, int inDim, string name = "weight")
        : base(name, outDim, inDim, Block, BlockBytes, blocks.Length)
    {
        long count = (long)outDim * inDim / Block;
        _qs = Pinned(count * 128, out _pqs);
        _scaleMin = Pinned(count * 16, out _psm);
        _d = Pinned(count * 2, out _pd);
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BlockBytes, BlockBytes);
            _d[2 * b] = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            _d[2 * b + 1] = (float)BinaryPrimitives.ReadHalfLittleEndian(block[2..]);
            var packed = block.Slice(4, 12);
            for (int j = 0; j < 8; j++)
            {
                // ggml's get_scale_min_k4: sub-blocks 0..3 use six low bits; 4..7 a nibble plus two high bits of bytes 0..7.
                _scaleMin[16 * b + j] = (byte)(j < 4 ? packed[j] & 63 : (packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4));
                _scaleMin[16 * b + 8 + j] = (byte)(j < 4 ? packed[j + 4] & 63 : (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
            }
            block.Slice(16, 128).CopyTo(_qs.AsSpan(b * 128, 128));
        }
    }

    protected override void UnpackGroup(long group, Span<sbyte> q, out float scaleLo, out float scaleHi, out float offset)
    {
        long b = group / 8;
        int j = (int)(group % 8);
        var qs = _qs.AsSpan((int)(b * 128 + 32 * (j / 2)), 32);
        int shift = j % 2 * 4;
        for (int i = 0; i < 32; i++) q[i] = (sbyte)((qs[i] >> shift) & 0x0F);
        scaleLo = scaleHi = _d[2 * b] * _scaleMin[16 * b + j];
        offset = -_d[2 * b + 1] * _scaleMin[16 * b + 8 + j];
    }

    protected override float DotAvx2(int row, sbyte* x, float* xs, float* xsum)
    {
        int superBlocks = In / Block;
        long first = (long)row * superBlocks;
        var low = Vector256.Create((byte)0x0F);
        Vector256<float> accLo = default, accHi = default; // two FMA chains: one would wait on the other's latency
        float mins = 0;
        for (int s = 0; s < superBlocks; s++)
        {
            byte* qs = _pqs + (first + s) * 128;
            byte* sm = _psm + (first + s) * 16;
            float d = _pd[2 * (first + s)], dmin = _pd[2 * (first + s) + 1];
            float summ = 0;
            for (int k = 0; k < 4; k++)
            {
                int a = 8 * s + 2 * k; // activation blocks of sub-blocks 2k (low nibbles) and 2k + 1 (high)
                var packed = Avx.LoadVector256(qs + 32 * k);
                var lo = packed & low;
                var hi = Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & low;
                var dotLo = DotUnsigned(lo, x + a * Group);
                var dotHi = DotUnsigned(hi, x + (a + 1) * Group);
                accLo = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dotLo), Vector256.Create(d * sm[2 * k] * xs[a]), accLo);
                accHi = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dotHi), Vector256.Create(d * sm[2 * k + 1] * xs[a + 1]), accHi);
                summ += sm[8 + 2 * k] * xsum[a] + sm[8 + 2 * k + 1] * xsum[a + 1];
            }
            mins += dmin * summ;
        }
        return Vector256.Sum(accLo + accHi) - mins;
    }
}
