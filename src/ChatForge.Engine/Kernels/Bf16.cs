using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>bfloat16 stored as ushort: the top 16 bits of an IEEE float32.</summary>
public static class Bf16
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
            // Widening is exact, so the vector body and the scalar tail agree bit for bit (the bf16 KV cache reads through here).
            ref ushort src = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(source);
            ref float dst = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(destination);
            for (; i <= source.Length - 16; i += 16)
            {
                var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref src, (nuint)i));
                Vector256.ShiftLeft(lower, 16).AsSingle().StoreUnsafe(ref dst, (nuint)i);
                Vector256.ShiftLeft(upper, 16).AsSingle().StoreUnsafe(ref dst, (nuint)i + 8);
            }
        }
        for (; i < source.Length; i++) destination[i] = ToFloat(source[i]);
    }
}
