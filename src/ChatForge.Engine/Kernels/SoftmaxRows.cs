using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// Row operations of a numerically stable softmax (max, shifted exp and sums), shared by flash attention and
/// the LM-head loss. Each takes the SIMD level its kernel read once at the start.
/// </summary>
internal static unsafe class SoftmaxRows
{
    /// <summary>max(x[0..n)).</summary>
    public static float Max(SimdLevel level, float* x, int n)
    {
        int j = 0;
        float max = float.NegativeInfinity;
        if (level == SimdLevel.Vector512 && n >= 16)
        {
            var m = Vector512.Create(float.NegativeInfinity);
            for (; j + 16 <= n; j += 16) m = Vector512.Max(m, Vector512.Load(x + j));
            max = MaxLanes(Vector256.Max(m.GetLower(), m.GetUpper()));
        }
        else if (level >= SimdLevel.Vector256 && n >= 8)
        {
            var m = Vector256.Create(float.NegativeInfinity);
            for (; j + 8 <= n; j += 8) m = Vector256.Max(m, Vector256.Load(x + j));
            max = MaxLanes(m);
        }
        for (; j < n; j++) max = MathF.Max(max, x[j]);
        return max;
    }

    static float MaxLanes(Vector256<float> v)
    {
        var h = Vector128.Max(v.GetLower(), v.GetUpper());
        return MathF.Max(MathF.Max(h[0], h[1]), MathF.Max(h[2], h[3]));
    }

    /// <summary>x[j] = exp(x[j] − shift) for j &lt; n; returns Σ x[j]. Arguments are ≤ 0 in softmax use.</summary>
    public static float ExpShiftSum(SimdLevel level, float* x, int n, float shift)
    {
        int j = 0;
        float sum = 0;
        if (level == SimdLevel.Vector512 && n >= 16)
        {
            var s = Vector512.Create(shift);
            var acc = Vector512<float>.Zero;
            for (; j + 16 <= n; j += 16)
            {
                var e = Exp(Vector512.Load(x + j) - s);
                e.Store(x + j);
                acc += e;
            }
            sum = Vector512.Sum(acc);
        }
        else if (level >= SimdLevel.Vector256 && n >= 8)
        {
            var s = Vector256.Create(shift);
            var acc = Vector256<float>.Zero;
            for (; j + 8 <= n; j += 8)
            {
                var e = Exp(Vector256.Load(x + j) - s);
                e.Store(x + j);
                acc += e;
            }
            sum = Vector256.Sum(acc);
        }
        for (; j < n; j++)
        {
            float e = MathF.Exp(x[j] - shift);
            x[j] = e;
            sum += e;
        }
        return sum;
    }

    /// <summary>Σ exp(x[j] − shift) and Σ exp(x[j] − shift)·x[j] over j &lt; n, leaving x unchanged (softmax sum and entropy term).</summary>
    public static (float SumExp, float SumExpX) ExpShiftSums(SimdLevel level, float* x, int n, float shift)
    {
        int j = 0;
        float sum = 0, sumX = 0;
        if (level == SimdLevel.Vector512 && n >= 16)
        {
            var s = Vector512.Create(shift);
            Vector512<float> acc = default, accX = default;
            for (; j + 16 <= n; j += 16)
            {
                var v = Vector512.Load(x + j);
                var e = Exp(v - s);
                acc += e;
                accX = Vector512.FusedMultiplyAdd(e, v, accX);
            }
            sum = Vector512.Sum(acc);
            sumX = Vector512.Sum(accX);
        }
        else if (level >= SimdLevel.Vector256 && n >= 8)
        {
            var s = Vector256.Create(shift);
            Vector256<float> acc = default, accX = default;
            for (; j + 8 <= n; j += 8)
            {
                var v = Vector256.Load(x + j);
                var e = Exp(v - s);
                acc += e;
                accX = Vector256.FusedMultiplyAdd(e, v, accX);
            }
            sum = Vector256.Sum(acc);
            sumX = Vector256.Sum(accX);
        }
        for (; j < n; j++)
        {
            float e = MathF.Exp(x[j] - shift);
            sum += e;
            sumX += e * x[j];
        }
        return (sum, sumX);
    }

    /// <summary>x[j] = exp(x[j] − shift)·scale for j &lt; n: softmax probabilities times a row weight when shift is the row's logsumexp.</summary>
    public static void ExpShiftScale(SimdLevel level, float* x, int n, float shift, float scale)
    {
        int j = 0;
        if (level == SimdLevel.Vector512)
        {
            var s = Vector512.Create(shift);
            var w = Vector512.Create(scale);
            for (; j + 16 <= n; j += 16) (Exp(Vector512.Load(x + j) - s) * w).Store(x + j);
        }
        else if (level == SimdLevel.Vector256)
        {
            var s = Vector256.Create(shift);
            var w = Vector256.Create(scale);
            for (; j + 8 <= n; j += 8) (Exp(Vector256.Load(x + j) - s) * w).Store(x + j);
        }
        for (; j < n; j++) x[j] = MathF.Exp(x[j] - shift) * scale;
    }

    // exp(x) = 2^n · e^r with n = round(x·log2 e), r = x − n·ln 2 ∈ [−ln2/2, ln2/2]; a degree-6 Taylor
    // polynomial gives ~2e-7 relative error. Inputs are clamped at −87 so 2^n stays a normal float
    // (callers only feed x ≤ 0: scores minus their running max).
    const float Log2E = 1.44269504f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f, RoundMagic = 12582912f; // 1.5·2^23

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Max(x, Vector512.Create(-87f));
        var n = Vector512.FusedMultiplyAdd(x, Vector512.Create(Log2E), Vector512.Create(RoundMagic)) - Vector512.Create(RoundMagic);
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(1f / 720), r, Vector512.Create(1f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f));
        var pow2 = (Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23;
        return p * pow2.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp(Vector256<float> x)
    {
        x = Vector256.Max(x, Vector256.Create(-87f));
        var n = Vector256.FusedMultiplyAdd(x, Vector256.Create(Log2E), Vector256.Create(RoundMagic)) - Vector256.Create(RoundMagic);
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(1f / 720), r, Vector256.Create(1f / 120));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 24));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f));
        var pow2 = (Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23;
        return p * pow2.AsSingle();
    }
}
