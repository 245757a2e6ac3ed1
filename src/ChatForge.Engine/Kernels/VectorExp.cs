using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// e^x for float vectors, for the sigmoids inside GELU and SwiGLU. The built-in Vector256/512.Exp evaluates in double
/// (about 2.4× slower here); this is the classic float scheme instead: n = round(x·log₂e), r = x − n·ln2 in two
/// parts (Cody–Waite), a degree-7 polynomial for e^r on |r| ≤ ln2/2, then scale by 2ⁿ through the exponent bits.
/// Relative error ≤ 2e-7 (≈ 2 ulp). x above 88.37 gives +∞, below −87.33 gives 0 (no denormals), NaN stays NaN.
/// </summary>
internal static class VectorExp
{
    const float Hi = 88.3762626647949f;   // 127.5·ln2: beyond it 2ⁿ would need exponent 128
    const float Lo = -87.3365447505531f;  // −126·ln2: the smallest normal result
    const float Log2E = 1.44269504088896341f;
    const float Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    const float P0 = 1.9875691500E-4f, P1 = 1.3981999507E-3f, P2 = 8.3334519073E-3f, P3 = 4.1665795894E-2f, P4 = 1.6666665459E-1f, P5 = 5.0000001201E-1f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var xc = Vector512.Min(Vector512.Max(x, Vector512.Create(Lo)), Vector512.Create(Hi));
        var n = Vector512.Round(xc * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), xc);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        // n is already clamped to [−126, 128], so the raw (non-saturating) conversion is exact.
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n) + Vector512.Create(127), 23).AsSingle();
        var result = p * scale;
        result = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(Hi)), Vector512.Create(float.PositiveInfinity), result);
        result = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(Lo)), Vector512<float>.Zero, result);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x); // NaN in, NaN out
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var xc = Vector256.Min(Vector256.Max(x, Vector256.Create(Lo)), Vector256.Create(Hi));
        var n = Vector256.Round(xc * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), xc);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One);
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n) + Vector256.Create(127), 23).AsSingle();
        var result = p * scale;
        result = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(Hi)), Vector256.Create(float.PositiveInfinity), result);
        result = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(Lo)), Vector256<float>.Zero, result);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);
    }
}
