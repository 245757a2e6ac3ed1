using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Kernels;

/// <summary>Which vector width the kernels use. Chosen once at start-up; tests lower it to cover every path.</summary>
public enum SimdLevel { Scalar = 0, Vector256 = 1, Vector512 = 2 }

public static class Simd
{
    /// <summary>The widest path this CPU runs natively (Vector512 needs AVX-512F, Vector256 needs AVX2 + FMA).</summary>
    public static SimdLevel Best { get; } =
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? SimdLevel.Vector512 :
        Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported ? SimdLevel.Vector256 :
        SimdLevel.Scalar;

    static SimdLevel _level = Best;

    /// <summary>The path every kernel takes now. Global on purpose: kernels run on worker threads.</summary>
    public static SimdLevel Level
    {
        get => _level;
        set
        {
            if (value > Best) throw new NotSupportedException($"SIMD level {value} is not supported on this CPU (best is {Best}).");
            _level = value;
        }
    }

    /// <summary>Runs with a lower SIMD level until disposed. Tests that force a level must not run in parallel with each other.</summary>
    public static IDisposable Force(SimdLevel level)
    {
        var previous = Level;
        Level = level;
        return new Restore(previous);
    }

    /// <summary>Levels this CPU can run, for tests that exercise every path.</summary>
    public static IEnumerable<SimdLevel> Supported() => Enum.GetValues<SimdLevel>().Where(l => l <= Best);

    sealed class Restore(SimdLevel previous) : IDisposable
    {
        public void Dispose() => Level = previous;
    }
}
