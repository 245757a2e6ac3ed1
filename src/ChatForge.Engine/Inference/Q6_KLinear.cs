using System.Buffers.Binary;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Inference;

/// <summary>
/// A weight W [out, in] in ggml's Q6_K format: super-blocks of 256 weights = ql[128] (low four bits), qh[64] (high two
/// bits), int8 scales[16] (one per 16 weights), fp16 d; w = d·scale·(q − 32) with q six bits (210 bytes per 256 weights).
/// In each 128-weight half, position l (0..31) of ql[0..32], ql[32..64] and qh[0..32] gives weights l, l + 32, l + 64,
/// l + 96, so three 32-byte loads rebuild four 32-weight groups, each one activation block. q − 32 is signed, so the
/// product uses Q8_0's sign trick (|x|·sign(w, x)); the s16 pair sums of each 16-weight half then meet their own
/// scale in a second MultiplyAddAdjacent (|sum| ≤ 2·32·127·2·127 fits int32). d is kept as a float: 212 bytes per 256.
/// </summary>
public sealed unsafe class Q6_KLinear : BlockLinear
{
    public const int Block = 256, BlockBytes = 210;

    readonly byte[] _q;
    readonly sbyte[] _scales;
    readonly float[] _d;
    readonly byte* _pq;
    readonly sbyte* _pscales;
    readonly float* _pd;

    public override BlockFormat Format => BlockFormat.Q6_K;
    public override long Bytes => _q.LongLength + _scales.LongLength + _d.LongLength * sizeof(float);

    /// <summary>From a GGUF Q6_K tensor's raw bytes, ne[0] = <paramref name="inDim"/> (the row length).</summary>
    public Q6_KLinear(ReadOnlySpan<byte> blocks, int outDim, int inDim, string name = "weight")
        : base(name, outDim, inDim, Block, BlockBytes, blocks.Length)
    {
        long count = (long)outDim * inDim / Block;
        _q = Pinned(count * 192, out _pq);
        _scales = Pinned(count * 16, out _pscales);
        _d = Pinned(count, out _pd);
        for (int b = 0; b < count; b++)
        {
            var block = blocks.Slice(b * BlockBytes, BlockBytes);
            block[..192].CopyTo(_q.AsSpan(b * 192, 192)); // ql then qh, as stored
            for (int i = 0; i < 16; i++) _scales[b * 16 + i] = (sbyte)block[192 + i];
            _d[b] = (float)BinaryPrimitives.ReadHalfLittleEndian(block[208..]);
        }
    }

    protected override void UnpackGroup(long group, Span<sbyte> q, out float scaleLo, out float scaleHi, out float offset)
    {
        long b = group / 8;
        int g = (int)(group % 8), half = g / 4, k = g % 4; // group g = weights 128·half + 32·k + l
        var ql = _q.AsSpan((int)(b * 192 + 64 * half + 32 * (k % 2)), 32);
        var qh = _q.AsSpan((int)(b * 192 + 128 + 32 * half), 32);
        int lowShift = k / 2 * 4, highShift = 2 * k;
        for (int l = 0; l < 32; l++) q[l] = (sbyte)((((ql[l] >> lowShift) & 0x0F) | (((qh[l] >> highShift) & 3) << 4)) - 32);
        scaleLo = _d[b] * _scales[b * 16 + 8 * half + 2 * k];
        scaleHi = _d[b] * _scales[b * 16 + 8 * half + 2 * k + 1];
        offset = 0;
    }

    protected override float DotAvx2(int row, sbyte* x, float* xs, float* xsum)
    {
        int superBlocks = In / Block;
        long first = (long)row * superBlocks;
        var low = Vector256.Create((byte)0x0F);
        var high = Vector256.Create((byte)0x30);
        var bias = Vector256.Create((sbyte)32);
        Vector256<float> acc = default, acc2 = default; // two FMA chains: one would wait on the other's latency
        for (int s = 0; s < superBlocks; s++)
        {
            byte* q = _pq + (first + s) * 192;
            sbyte* sc = _pscales + (first + s) * 16;
            float d = _pd[first + s];
            for (int half = 0; half < 2; half++)
            {
                var ql0 = Avx.LoadVector256(q + 64 * half);
                var ql1 = Avx.LoadVector256(q + 64 * half + 32);
                var qh = Avx.LoadVector256(q + 128 + 32 * half).AsUInt16();
                // Byte shifts through 16-bit lanes; the masks drop the bits that crossed from the neighbouring byte.
                var q0 = (ql0 & low) | (Avx2.ShiftLeftLogical(qh, 4).AsByte() & high);
                var q1 = (ql1 & low) | (Avx2.ShiftLeftLogical(qh, 2).AsByte() & high);
                var q2 = (Avx2.ShiftRightLogical(ql0.AsUInt16(), 4).AsByte() & low) | (qh.AsByte() & high);
                var q3 = (Avx2.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte() & low) | (Avx2.ShiftRightLogical(qh, 2).AsByte() & high);
                int a = 8 * s + 4 * half;
                sbyte* sh = sc + 8 * half;
                acc = Group32(q0, x + a * Group, sh[0], sh[1], d * xs[a], bias, acc);
                acc = Group32(q1, x + (a + 1) * Group, sh[2], sh[3], d * xs[a + 1], bias, acc);
                acc2 = Group32(q2, x + (a + 2) * Group, sh[4], sh[5], d * xs[a + 2], bias, acc2);
                acc2 = Group32(q3, x + (a + 3) * Group, sh[6], sh[7], d * xs[a + 3], bias, acc2);
            }
        }
        return Vector256.Sum(acc + acc2);
    }

    /// <summary>acc + scale·Σ (q − 32)·qx over one 32-weight group whose two 16-weight halves have scales lo and hi.</summary>
    static Vector256<float> Group32(Vector256<byte> q, sbyte* x, sbyte lo, sbyte hi, float scale, Vector256<sbyte> bias, Vector256<float> acc)
    {
        var scales = Vector256.Create(Vector128.Create((short)lo), Vector128.Create((short)hi));
        var dots = DotSigned(Avx2.Subtract(q.AsSByte(), bias), x, scales);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(dots), Vector256.Create(scale), acc);
    }
}
