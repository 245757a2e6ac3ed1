using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Kernels;

/// <summary>bfloat16 stored as ushort: the top 16 bits of an IEEE float32.</summary>
public static unsafe class Bf16
{
    /// <summary>Round to nearest even; NaN stays NaN (quiet), infinities stay infinite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((bits >> 16) | 0x0040); // NaN: keep it a NaN
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);

    public static void FromFloat(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException($"Destination holds {destination.Length} values, source has {source.Length}.");
        for (int i = 0; i < source.Length; i++) destination[i] = FromFloat(source[i]);
    }

    public static void ToFloat(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException($"Destination holds {destination.Length} values, source has {source.Length}.");
        int i = 0;
        if (Simd.Level >= SimdLevel.Vector256)
        {
            // Widening is exact, so the vector body and the scalar tail agree bit for bit (the bf16 KV cache reads through
            // here). Its callers stream from memory (the whole KV cache every decode step, checkpoint and GGUF tensors), and
            // one thread's sequential read is latency-bound here (~6 GB/s, ~9 GB/s prefetching 4 KiB ahead).
            fixed (ushort* src = source)
            fixed (float* dst = destination)
                for (; i <= source.Length - 16; i += 16)
                {
                    if ((i & 31) == 0 && Sse.IsSupported) Sse.Prefetch0((byte*)(src + i) + PrefetchBytes);
                    var (lower, upper) = Vector256.Widen(Vector256.Load(src + i));
                    Vector256.ShiftLeft(lower, 16).AsSingle().Store(dst + i);
                    Vector256.ShiftLeft(upper, 16).AsSingle().Store(dst + i + 8);
                }
        }
        for (; i < source.Length; i++) destination[i] = ToFloat(source[i]);
    }

    const int PrefetchBytes = 4096;
}
