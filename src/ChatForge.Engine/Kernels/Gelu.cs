using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// GELU, tanh approximation (GPT-2 "gelu_new"): 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³).
/// Evaluated through the identity 0.5·(1 + tanh(u)) = σ(2u) = 1/(1 + e^(−2u)), which never cancels and saturates
/// cleanly: for x → −∞, e^(−2u) → +∞ and the output goes to −0 instead of producing NaN.
/// </summary>
public static class Gelu
{
    const float K0 = 0.7978845608028654f;          // √(2/π)
    const float K0K1 = 0.7978845608028654f * 0.044715f;
    const float Clamp = 10f;

    /// <summary>output = gelu(x), element-wise over any shape; output may be the same span as x.</summary>
    public static unsafe void Forward(ReadOnlySpan<float> x, Span<float> output)
    {
        KernelArgs.Length("Gelu.Forward", nameof(output), output.Length, x.Length, $"[{x.Length}] (same as x)");
        var level = Simd.Level;
        int n = x.Length;
        if (!RowBlocks.ShouldSplit(n, 4))
        {
            ForwardRange(x, output, level);
            return;
        }
        fixed (float* px = x, py = output)
        {
            float* ax = px, ay = py;
            RowBlocks.ForAligned(n, 64, (lo, hi) => ForwardRange(new ReadOnlySpan<float>(ax + lo, hi - lo), new Span<float>(ay + lo, hi - lo), level));
        }
    }

    static void ForwardRange(ReadOnlySpan<float> x, Span<float> y, SimdLevel level)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        if (level == SimdLevel.Vector512)
        {
            var k0 = Vector512.Create(-2f * K0);
            var k1 = Vector512.Create(-2f * K0K1);
            var one = Vector512<float>.One;
            for (; i <= n - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref px, (nuint)i);
                var e = Vector512.Exp(v * Vector512.FusedMultiplyAdd(k1, v * v, k0)); // e^(−2u)
                (v / (one + e)).StoreUnsafe(ref py, (nuint)i);
            }
        }
        else if (level == SimdLevel.Vector256)
        {
            var k0 = Vector256.Create(-2f * K0);
            var k1 = Vector256.Create(-2f * K0K1);
            var one = Vector256<float>.One;
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref px, (nuint)i);
                var e = Vector256.Exp(v * Vector256.FusedMultiplyAdd(k1, v * v, k0));
                (v / (one + e)).StoreUnsafe(ref py, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref px, i);
            Unsafe.Add(ref py, i) = v / (1f + MathF.Exp(-2f * v * (K0 + K0K1 * v * v)));
        }
    }

    /// <summary>WRITES dx = dOutput·gelu'(x) (x is the pre-activation Forward saw). dx may be the same span as dOutput.</summary>
    public static unsafe void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> x, Span<float> dx)
    {
        KernelArgs.Length("Gelu.Backward", nameof(dOutput), dOutput.Length, x.Length, $"[{x.Length}] (same as x)");
        KernelArgs.Length("Gelu.Backward", nameof(dx), dx.Length, x.Length, $"[{x.Length}] (same as x)");
        var level = Simd.Level;
        int n = x.Length;
        if (!RowBlocks.ShouldSplit(n, 4))
        {
            BackwardRange(dOutput, x, dx, level);
            return;
        }
        fixed (float* pdy = dOutput, px = x, pdx = dx)
        {
            float* ady = pdy, ax = px, adx = pdx;
            RowBlocks.ForAligned(n, 64, (lo, hi) => BackwardRange(new ReadOnlySpan<float>(ady + lo, hi - lo), new ReadOnlySpan<float>(ax + lo, hi - lo),
                new Span<float>(adx + lo, hi - lo), level));
        }
    }

    // With s = σ(2u): gelu = x·s and gelu' = s + x·2s(1 − s)·u', u' = √(2/π)·(1 + 3·0.044715·x²).
    // The second term uses x clamped to ±10: beyond that s(1 − s) is below 1e-35 (0 for x > 10) while x·u' ~ x³
    // would overflow for |x| > 1e13 and turn 0·∞ into NaN. s itself comes from the unclamped x, so NaN still propagates.
    static void BackwardRange(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> x, Span<float> dx, SimdLevel level)
    {
        ref float pdy = ref MemoryMarshal.GetReference(dOutput);
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float pdx = ref MemoryMarshal.GetReference(dx);
        int n = x.Length, i = 0;
        if (level == SimdLevel.Vector512)
        {
            var k0 = Vector512.Create(K0);
            var k1 = Vector512.Create(K0K1);
            var k3 = Vector512.Create(3f * K0K1);
            var one = Vector512<float>.One;
            var two = Vector512.Create(2f);
            var lim = Vector512.Create(Clamp);
            for (; i <= n - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref px, (nuint)i);
                var u = v * Vector512.FusedMultiplyAdd(k1, v * v, k0);
                var s = one / (one + Vector512.Exp(-(u + u)));
                var vc = Vector512.Min(Vector512.Max(v, -lim), lim);
                var du = Vector512.FusedMultiplyAdd(k3, vc * vc, k0);
                var g = Vector512.FusedMultiplyAdd(two * vc * s * (one - s), du, s);
                (Vector512.LoadUnsafe(ref pdy, (nuint)i) * g).StoreUnsafe(ref pdx, (nuint)i);
            }
        }
        else if (level == SimdLevel.Vector256)
        {
            var k0 = Vector256.Create(K0);
            var k1 = Vector256.Create(K0K1);
            var k3 = Vector256.Create(3f * K0K1);
            var one = Vector256<float>.One;
            var two = Vector256.Create(2f);
            var lim = Vector256.Create(Clamp);
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref px, (nuint)i);
                var u = v * Vector256.FusedMultiplyAdd(k1, v * v, k0);
                var s = one / (one + Vector256.Exp(-(u + u)));
                var vc = Vector256.Min(Vector256.Max(v, -lim), lim);
                var du = Vector256.FusedMultiplyAdd(k3, vc * vc, k0);
                var g = Vector256.FusedMultiplyAdd(two * vc * s * (one - s), du, s);
                (Vector256.LoadUnsafe(ref pdy, (nuint)i) * g).StoreUnsafe(ref pdx, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref px, i);
            float u = v * (K0 + K0K1 * v * v);
            float s = 1f / (1f + MathF.Exp(-2f * u));
            float vc = Math.Clamp(v, -Clamp, Clamp);
            float g = s + 2f * vc * s * (1f - s) * (K0 + 3f * K0K1 * vc * vc);
            Unsafe.Add(ref pdx, i) = Unsafe.Add(ref pdy, i) * g;
        }
    }
}
