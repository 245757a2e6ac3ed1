using ChatForge.Engine.Kernels;

namespace ChatForge.Engine.Tests.Kernels;

/// <summary>Helpers for checking float kernels against float64 references and central finite differences.</summary>
internal static class KernelCheck
{
    public static float[] Random(Random rng, int n, double scale = 1, double offset = 0)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(offset + scale * (2 * rng.NextDouble() - 1));
        return a;
    }

    public static double[] ToDouble(ReadOnlySpan<float> a)
    {
        var d = new double[a.Length];
        for (int i = 0; i < a.Length; i++) d[i] = a[i];
        return d;
    }

    /// <summary>Central differences of a float64 scalar function; h relative to each coordinate's size.</summary>
    public static double[] NumericGradient(Func<double[], double> loss, double[] x, double h = 1e-6)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double saved = x[i], step = h * Math.Max(1, Math.Abs(saved));
            x[i] = saved + step;
            double up = loss(x);
            x[i] = saved - step;
            double down = loss(x);
            x[i] = saved;
            g[i] = (up - down) / (2 * step);
        }
        return g;
    }

    public static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>
    /// |actual − expected| ≤ rtol·(|expected| + rms(expected)) element-wise: relative for large entries, scaled by the
    /// typical size for entries near zero (where a relative test would be meaningless).
    /// </summary>
    public static void Close(ReadOnlySpan<float> actual, double[] expected, double rtol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double rms = 0;
        foreach (double e in expected) rms += e * e;
        rms = Math.Sqrt(rms / Math.Max(1, expected.Length));
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (!(err <= rtol * (Math.Abs(expected[i]) + rms) + 1e-30))
                Assert.Fail($"{what}: element {i} is {actual[i]}, expected {expected[i]} (error {err:G3}, rms {rms:G3}, level {Simd.Level}).");
        }
    }

    /// <summary>Element-wise difference after − before (to check that a backward ACCUMULATES).</summary>
    public static float[] Delta(float[] after, float[] before)
    {
        var d = new float[after.Length];
        for (int i = 0; i < d.Length; i++) d[i] = after[i] - before[i];
        return d;
    }

    /// <summary>Runs body once per SIMD level this CPU supports, with the level forced.</summary>
    public static void ForEachLevel(Action<SimdLevel> body)
    {
        foreach (var level in Simd.Supported())
            using (Simd.Force(level))
                body(level);
    }

    /// <summary>Runs body with a given kernel thread count, restoring the previous one.</summary>
    public static void WithThreads(int count, Action body)
    {
        int previous = KernelThreads.Count;
        KernelThreads.Count = count;
        try { body(); }
        finally { KernelThreads.Count = previous; }
    }
}
