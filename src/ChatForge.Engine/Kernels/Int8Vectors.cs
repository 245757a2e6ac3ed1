using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// Short vectors held as int8 with one float scale each (absmax / 127): the int8 KV cache stores each position's key and
/// value this way, one scale per kv head, so a head's 64–128 values cost a byte each plus four bytes.
/// </summary>
public static unsafe class Int8Vectors
{
    /// <summary>Rounds source / scale into destination and returns scale = max |source| / 127 (0 for an all-zero vector).</summary>
    public static float Quantize(ReadOnlySpan<float> source, Span<sbyte> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException($"Destination holds {destination.Length} values, source has {source.Length}.");
        float maxAbs = 0;
        foreach (float x in source) maxAbs = MathF.Max(maxAbs, MathF.Abs(x));
        if (maxAbs == 0)
        {
            destination[..source.Length].Clear();
            return 0;
        }
        float inverse = 127f / maxAbs;
        for (int i = 0; i < source.Length; i++) destination[i] = (sbyte)Math.Clamp(MathF.Round(source[i] * inverse), -127, 127);
        return maxAbs / 127f;
    }

    /// <summary>destination[i] = source[i] · scale: 8 values per step on AVX2 (exact in float32, so every path agrees bit for bit).</summary>
    public static void ToFloat(sbyte* source, float scale, float* destination, int count)
    {
        int i = 0;
        if (Simd.Level >= SimdLevel.Vector256 && Avx2.IsSupported)
        {
            var s = Vector256.Create(scale);
            for (; i <= count - 8; i += 8)
                Avx.Multiply(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(source + i)), s).Store(destination + i);
        }
        for (; i < count; i++) destination[i] = source[i] * scale;
    }
}
