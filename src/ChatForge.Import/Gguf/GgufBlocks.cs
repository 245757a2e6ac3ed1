using System.Buffers.Binary;
using System.Runtime.InteropServices;
using ChatForge.Engine.Kernels;

namespace ChatForge.Import.Gguf;

/// <summary>
/// ggml's block formats (per ggml-common.h), each dequantised by a plain loop:
///   Q8_0: 32 weights = fp16 d, int8 q[32];                     w = d·q
///   Q4_0: 32 weights = fp16 d, u8 qs[16] (low nibbles are 0..15, high nibbles 16..31); w = d·(nibble − 8)
///   Q4_K: 256 weights = fp16 d, fp16 dmin, u8 scales[12] (8 six-bit scale/min pairs), u8 qs[128];
///         each 32-weight sub-block j: w = d·sc_j·nibble − dmin·m_j
///   Q6_K: 256 weights = u8 ql[128] (low 4 bits), u8 qh[64] (high 2 bits), int8 scales[16], fp16 d;
///         w = d·scale·(q − 32) with q six bits.
/// </summary>
public static class GgufBlocks
{
    public static (int Weights, int Bytes) BlockSize(GgmlType type) => type switch
    {
        GgmlType.F32 => (1, 4),
        GgmlType.F16 or GgmlType.BF16 => (1, 2),
        GgmlType.Q8_0 => (32, 34),
        GgmlType.Q4_0 => (32, 18),
        GgmlType.Q4_K => (256, 144),
        GgmlType.Q6_K => (256, 210),
        _ => throw new NotSupportedException($"ggml type {type} is not supported."),
    };

    /// <summary>Bytes of a tensor; rows (ne[0]) must hold whole blocks.</summary>
    public static long ByteCount(GgmlType type, long[] shape, string name)
    {
        var (weights, bytes) = BlockSize(type);
        if (shape[0] % weights != 0) throw new InvalidDataException($"Tensor '{name}': row length {shape[0]} is not a multiple of the {type} block size {weights}.");
        return shape.Aggregate(1L, (a, b) => a * b) / weights * bytes;
    }

    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(src).CopyTo(dst); return;
            case GgmlType.F16: System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), dst); return;
            case GgmlType.BF16: Bf16.ToFloat(MemoryMarshal.Cast<byte, ushort>(src), dst); return;
        }
        var (weights, bytes) = BlockSize(type);
        for (int b = 0; b < dst.Length / weights; b++)
        {
            var block = src.Slice(b * bytes, bytes);
            var y = dst.Slice(b * weights, weights);
            switch (type)
            {
                case GgmlType.Q8_0: Q8_0(block, y); break;
                case GgmlType.Q4_0: Q4_0(block, y); break;
                case GgmlType.Q4_K: Q4_K(block, y); break;
                case GgmlType.Q6_K: Q6_K(block, y); break;
            }
        }
    }

    static float Half16(ReadOnlySpan<byte> b) => (float)BinaryPrimitives.ReadHalfLittleEndian(b);

    static void Q8_0(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = Half16(block);
        for (int i = 0; i < 32; i++) y[i] = d * (sbyte)block[2 + i];
    }

    static void Q4_0(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = Half16(block);
        var qs = block[2..];
        for (int i = 0; i < 16; i++)
        {
            y[i] = d * ((qs[i] & 0x0F) - 8);
            y[i + 16] = d * ((qs[i] >> 4) - 8);
        }
    }

    /// <summary>The j-th (0..7) six-bit scale and min of a Q4_K block's 12 packed bytes.</summary>
    public static (int Scale, int Min) ScaleMinK4(int j, ReadOnlySpan<byte> q)
    {
        if (j < 4) return (q[j] & 63, q[j + 4] & 63);
        return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }

    static void Q4_K(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = Half16(block), dmin = Half16(block[2..]);
        var scales = block.Slice(4, 12);
        var qs = block.Slice(16, 128);
        // Four 64-weight groups: 32 low nibbles (sub-block 2g) then 32 high nibbles (sub-block 2g+1) of the same 32 bytes.
        for (int g = 0; g < 4; g++)
        {
            var (sc1, m1) = ScaleMinK4(2 * g, scales);
            var (sc2, m2) = ScaleMinK4(2 * g + 1, scales);
            var q = qs.Slice(32 * g, 32);
            for (int l = 0; l < 32; l++)
            {
                y[64 * g + l] = d * sc1 * (q[l] & 0x0F) - dmin * m1;
                y[64 * g + 32 + l] = d * sc2 * (q[l] >> 4) - dmin * m2;
            }
        }
    }

    static void Q6_K(ReadOnlySpan<byte> block, Span<float> y)
    {
        var qlAll = block[..128];
        var qhAll = block.Slice(128, 64);
        var scAll = block.Slice(192, 16);
        float d = Half16(block[208..]);
        // Two 128-weight halves; in each, 32 positions l give four weights (l, l+32, l+64, l+96).
        for (int n = 0; n < 2; n++)
        {
            var ql = qlAll.Slice(64 * n, 64);
            var qh = qhAll.Slice(32 * n, 32);
            var sc = scAll.Slice(8 * n, 8);
            var yh = y.Slice(128 * n, 128);
            for (int l = 0; l < 32; l++)
            {
                int s = l / 16;
                int q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                yh[l] = d * (sbyte)sc[s] * q1;
                yh[l + 32] = d * (sbyte)sc[s + 2] * q2;
                yh[l + 64] = d * (sbyte)sc[s + 4] * q3;
                yh[l + 96] = d * (sbyte)sc[s + 6] * q4;
            }
        }
    }
}
