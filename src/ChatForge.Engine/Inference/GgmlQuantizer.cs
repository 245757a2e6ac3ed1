using System.Buffers.Binary;

namespace ChatForge.Engine.Inference;

/// <summary>
/// fp32 weights [rows, row length] into ggml block bytes, so a model without a GGUF file (random weights for
/// `bench decode`, a trained checkpoint) can be served and measured in the formats llama.cpp files use.
/// Q4_0 follows ggml's reference quantiser exactly (d = the signed absmax / −8, q = min(15, trunc(x/d + 8.5))).
/// Q4_K and Q6_K are simple round-to-nearest quantisers, not ggml's iterative scale search (make_qkx2_quants,
/// make_qx_quants): Q4_K maps each 32-weight sub-block's [min(0, lowest), highest] onto 0..15, Q6_K each 16-weight
/// sub-block's absmax onto ±31; their error is somewhat above llama.cpp's for the same bits, the bytes read are the same.
/// </summary>
public static class GgmlQuantizer
{
    public static byte[] Quantize(BlockFormat format, ReadOnlySpan<float> weights) => format switch
    {
        BlockFormat.Q8_0 => Q8_0(weights),
        BlockFormat.Q4_0 => Q4_0(weights),
        BlockFormat.Q4_K => Q4_K(weights),
        BlockFormat.Q6_K => Q6_K(weights),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    static void CheckLength(int length, int block, string format)
    {
        if (length % block != 0) throw new ArgumentException($"{format}: {length} weights are not whole blocks of {block}.");
    }

    public static byte[] Q8_0(ReadOnlySpan<float> w)
    {
        CheckLength(w.Length, 32, "Q8_0");
        var bytes = new byte[w.Length / 32 * 34];
        for (int b = 0; b < w.Length / 32; b++)
        {
            var x = w.Slice(b * 32, 32);
            float max = 0;
            foreach (float v in x) max = MathF.Max(max, MathF.Abs(v));
            float d = max / 127f, id = d > 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(b * 34), (Half)d);
            for (int i = 0; i < 32; i++) bytes[b * 34 + 2 + i] = (byte)(sbyte)MathF.Round(x[i] * id);
        }
        return bytes;
    }

    public static byte[] Q4_0(ReadOnlySpan<float> w)
    {
        CheckLength(w.Length, 32, "Q4_0");
        var bytes = new byte[w.Length / 32 * 18];
        for (int b = 0; b < w.Length / 32; b++)
        {
            var x = w.Slice(b * 32, 32);
            float amax = 0, max = 0;
            foreach (float v in x)
                if (MathF.Abs(v) > amax) { amax = MathF.Abs(v); max = v; }
            float d = max / -8f, id = d != 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(b * 18), (Half)d);
            for (int i = 0; i < 16; i++)
            {
                int lo = Math.Min(15, (int)(x[i] * id + 8.5f));
                int hi = Math.Min(15, (int)(x[i + 16] * id + 8.5f));
                bytes[b * 18 + 2 + i] = (byte)(lo | (hi << 4));
            }
        }
        return bytes;
    }

    public static byte[] Q4_K(ReadOnlySpan<float> w)
    {
        CheckLength(w.Length, 256, "Q4_K");
        var bytes = new byte[w.Length / 256 * 144];
        Span<float> scale = stackalloc float[8], min = stackalloc float[8];
        Span<int> sc = stackalloc int[8], m = stackalloc int[8];
        for (int b = 0; b < w.Length / 256; b++)
        {
            var x = w.Slice(b * 256, 256);
            var block = bytes.AsSpan(b * 144, 144);
            for (int j = 0; j < 8; j++)
            {
                float lo = 0, hi = 0; // the range always holds 0, so the offset −dmin·m is ≤ 0 as ggml requires
                foreach (float v in x.Slice(32 * j, 32)) { lo = MathF.Min(lo, v); hi = MathF.Max(hi, v); }
                scale[j] = (hi - lo) / 15f;
                min[j] = -lo;
            }
            float d = Max(scale) / 63f, dmin = Max(min) / 63f;
            BinaryPrimitives.WriteHalfLittleEndian(block, (Half)d);
            BinaryPrimitives.WriteHalfLittleEndian(block[2..], (Half)dmin);
            float dh = (float)(Half)d, dminh = (float)(Half)dmin;
            for (int j = 0; j < 8; j++)
            {
                sc[j] = dh > 0 ? Math.Clamp((int)MathF.Round(scale[j] / dh), 0, 63) : 0;
                m[j] = dminh > 0 ? Math.Clamp((int)MathF.Round(min[j] / dminh), 0, 63) : 0;
            }
            var packed = block.Slice(4, 12);
            for (int j = 0; j < 4; j++)
            {
                packed[j] = (byte)(sc[j] | ((sc[j + 4] >> 4) << 6));
                packed[j + 4] = (byte)(m[j] | ((m[j + 4] >> 4) << 6));
                packed[j + 8] = (byte)((sc[j + 4] & 0x0F) | ((m[j + 4] & 0x0F) << 4));
            }
            var qs = block.Slice(16, 128);
            for (int j = 0; j < 8; j++)
            {
                float step = dh * sc[j], offset = dminh * m[j];
                for (int l = 0; l < 32; l++)
                {
                    int q = step > 0 ? Math.Clamp((int)MathF.Round((x[32 * j + l] + offset) / step), 0, 15) : 0;
                    qs[32 * (j / 2) + l] |= (byte)(q << (j % 2 * 4));
                }
            }
        }
        return bytes;
    }

    public static byte[] Q6_K(ReadOnlySpan<float> w)
    {
        CheckLength(w.Length, 256, "Q6_K");
        var bytes = new byte[w.Length / 256 * 210];
        Span<float> scale = stackalloc float[16];
        for (int b = 0; b < w.Length / 256; b++)
        {
            var x = w.Slice(b * 256, 256);
            var block = bytes.AsSpan(b * 210, 210);
            for (int s = 0; s < 16; s++)
            {
                float amax = 0;
                foreach (float v in x.Slice(16 * s, 16)) amax = MathF.Max(amax, MathF.Abs(v));
                scale[s] = amax / 31f;
            }
            float d = Max(scale) / 127f;
            BinaryPrimitives.WriteHalfLittleEndian(block[208..], (Half)d);
            float dh = (float)(Half)d;
            for (int s = 0; s < 16; s++)
            {
                int sc = dh > 0 ? Math.Clamp((int)MathF.Round(scale[s] / dh), -127, 127) : 0;
                block[192 + s] = (byte)(sbyte)sc;
                float step = dh * sc;
                for (int i = 16 * s; i < 16 * s + 16; i++)
                {
                    int q = (step > 0 ? Math.Clamp((int)MathF.Round(x[i] / step), -32, 31) : 0) + 32;
                    // Weight i = 128·half + 32·k + l: low nibble in ql[64·half + 32·(k % 2) + l] (high nibble for k ≥ 2), top bits in qh[32·half + l] at 2k.
                    int half = i / 128, k = i % 128 / 32, l = i % 32;
                    block[64 * half + 32 * (k % 2) + l] |= (byte)((q & 0x0F) << (k / 2 * 4));
                    block[128 + 32 * half + l] |= (byte)((q >> 4) << (2 * k));
                }
            }
        }
        return bytes;
    }

    static float Max(ReadOnlySpan<float> values)
    {
        float max = 0;
        foreach (float v in values) max = MathF.Max(max, v);
        return max;
    }
}
