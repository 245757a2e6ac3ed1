namespace ChatForge.Engine.Tests.Kernels;

/// <summary>Plain float64 causal GQA attention that materialises every score: the ground truth for the blocked kernels.</summary>
internal static class AttentionReference
{
    public static (double[] Output, double[] Lse) Forward(float[] qkv, int batch, int t, int heads, int kvHeads, int hd)
    {
        int qkvDim = (heads + 2 * kvHeads) * hd, outDim = heads * hd, group = heads / kvHeads;
        double scale = 1 / Math.Sqrt(hd);
        var output = new double[batch * t * outDim];
        var lse = new double[batch * heads * t];
        var p = new double[t];
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        for (int i = 0; i < t; i++)
        {
            int g = h / group;
            double max = double.NegativeInfinity;
            for (int j = 0; j <= i; j++)
            {
                double s = 0;
                for (int d = 0; d < hd; d++) s += (double)Q(qkv, b, i, h, d) * K(qkv, b, j, g, d);
                p[j] = s * scale;
                max = Math.Max(max, p[j]);
            }
            double sum = 0;
            for (int j = 0; j <= i; j++) { p[j] = Math.Exp(p[j] - max); sum += p[j]; }
            lse[(b * heads + h) * t + i] = max + Math.Log(sum);
            for (int d = 0; d < hd; d++)
            {
                double o = 0;
                for (int j = 0; j <= i; j++) o += p[j] / sum * V(qkv, b, j, g, d);
                output[(b * t + i) * outDim + h * hd + d] = o;
            }
        }
        return (output, lse);

        float Q(float[] x, int b, int i, int h, int d) => x[(b * t + i) * qkvDim + h * hd + d];
        float K(float[] x, int b, int j, int g, int d) => x[(b * t + j) * qkvDim + (heads + g) * hd + d];
        float V(float[] x, int b, int j, int g, int d) => x[(b * t + j) * qkvDim + (heads + kvHeads + g) * hd + d];
    }

    /// <summary>Analytic backward of the reference: returns dQkv for the given dOutput.</summary>
    public static double[] Backward(float[] dOutput, float[] qkv, int batch, int t, int heads, int kvHeads, int hd)
    {
        int qkvDim = (heads + 2 * kvHeads) * hd, outDim = heads * hd, group = heads / kvHeads;
        double scale = 1 / Math.Sqrt(hd);
        var dQkv = new double[qkv.Length];
        var p = new double[t];
        var dp = new double[t];
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        for (int i = 0; i < t; i++)
        {
            int g = h / group;
            int qi = (b * t + i) * qkvDim + h * hd;
            double max = double.NegativeInfinity;
            for (int j = 0; j <= i; j++)
            {
                double s = 0;
                for (int d = 0; d < hd; d++) s += (double)qkv[qi + d] * qkv[KIndex(b, j, g) + d];
                p[j] = s * scale;
                max = Math.Max(max, p[j]);
            }
            double sum = 0;
            for (int j = 0; j <= i; j++) { p[j] = Math.Exp(p[j] - max); sum += p[j]; }
            double dot = 0;
            for (int j = 0; j <= i; j++)
            {
                p[j] /= sum;
                double s = 0;
                for (int d = 0; d < hd; d++) s += (double)dOutput[(b * t + i) * outDim + h * hd + d] * qkv[VIndex(b, j, g) + d];
                dp[j] = s;
                dot += p[j] * s;
            }
            for (int j = 0; j <= i; j++)
            {
                double ds = p[j] * (dp[j] - dot) * scale;
                for (int d = 0; d < hd; d++)
                {
                    dQkv[qi + d] += ds * qkv[KIndex(b, j, g) + d];
                    dQkv[KIndex(b, j, g) + d] += ds * qkv[qi + d];
                    dQkv[VIndex(b, j, g) + d] += p[j] * dOutput[(b * t + i) * outDim + h * hd + d];
                }
            }
        }
        return dQkv;

        int KIndex(int b, int j, int g) => (b * t + j) * qkvDim + (heads + g) * hd;
        int VIndex(int b, int j, int g) => (b * t + j) * qkvDim + (heads + kvHeads + g) * hd;
    }

    public static float[] Random(int n, int seed, float amplitude = 1f)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * amplitude);
        return x;
    }

    /// <summary>Asserts |actual − expected| ≤ atol + rtol·|expected| elementwise, reporting the worst index.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double atol, double rtol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double excess = Math.Abs(actual[i] - expected[i]) - (atol + rtol * Math.Abs(expected[i]));
            if (double.IsNaN(actual[i]) || excess > worstExcess) { worst = i; worstExcess = double.IsNaN(actual[i]) ? double.PositiveInfinity : excess; }
        }
        if (worst >= 0)
            Assert.Fail($"{what}: element {worst} is {actual[worst]}, expected {expected[worst]} (|diff| = {Math.Abs(actual[worst] - expected[worst]):g3}).");
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double atol, double rtol, string what)
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        AssertClose(e, actual, atol, rtol, what);
    }
}
