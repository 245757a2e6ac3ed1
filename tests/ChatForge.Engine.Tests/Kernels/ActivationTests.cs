using ChatForge.Engine.Kernels;
using static ChatForge.Engine.Tests.Kernels.KernelCheck;

namespace ChatForge.Engine.Tests.Kernels;

[Collection("Simd")]
public class ActivationTests
{
    /// <summary>GPT-2 gelu_new exactly as written: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    static double[] GeluRef(double[] x) =>
        x.Select(v => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))).ToArray();

    static double[] SwiGluRef(double[] gateUp, int n, int ff)
    {
        var y = new double[n * ff];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < ff; j++)
            {
                double g = gateUp[r * 2 * ff + j], u = gateUp[r * 2 * ff + ff + j];
                y[r * ff + j] = g / (1 + Math.Exp(-g)) * u;
            }
        return y;
    }

    static double[] BiasRef(double[] x, double[] b, int n, int c)
    {
        var y = (double[])x.Clone();
        for (int r = 0; r < n; r++)
            for (int j = 0; j < c; j++) y[r * c + j] += b[j];
        return y;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(23)]
    [InlineData(100)]
    public void Gelu_forward_matches_tanh_formula(int n)
    {
        var x = Random(new Random(n), n, 4);
        var expected = GeluRef(ToDouble(x));
        ForEachLevel(level =>
        {
            var y = new float[n];
            Gelu.Forward(x, y);
            Close(y, expected, 2e-6, $"gelu {level}");
            var inPlace = (float[])x.Clone();
            Gelu.Forward(inPlace, inPlace);
            Assert.Equal(y, inPlace);
        });
    }

    [Fact]
    public void Gelu_saturates_without_nan()
    {
        float[] x = [-1e30f, -1e4f, -100f, -20f, -10f, -1e-20f, 0f, 1e-20f, 10f, 20f, 100f, 1e4f, 1e30f, -1e4f, 3f, -3f, 1e-3f];
        ForEachLevel(level =>
        {
            var y = new float[x.Length];
            Gelu.Forward(x, y);
            var dx = new float[x.Length];
            Gelu.Backward(Enumerable.Repeat(1f, x.Length).ToArray(), x, dx);
            for (int i = 0; i < x.Length; i++)
            {
                double expected = x[i] > 0 && x[i] >= 10 ? x[i] : x[i] <= -10 ? 0 : GeluRef([x[i]])[0];
                Assert.True(Math.Abs(y[i] - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"gelu({x[i]}) = {y[i]}, expected {expected} ({level})");
                double slope = x[i] >= 10 ? 1 : x[i] <= -10 ? 0 : double.NaN;
                Assert.True(float.IsFinite(dx[i]), $"gelu'({x[i]}) = {dx[i]} ({level})");
                if (!double.IsNaN(slope)) Assert.Equal(slope, dx[i], 1e-6);
            }
            Assert.Equal(0.5, dx[6], 1e-7); // gelu'(0) = 0.5
        });
    }

    [Fact]
    public void Gelu_backward_matches_finite_differences()
    {
        const int n = 53;
        var x = Random(new Random(1), n, 4);
        var dy = Random(new Random(2), n);
        var dyd = ToDouble(dy);
        var g = NumericGradient(v => Dot(dyd, GeluRef(v)), ToDouble(x));
        ForEachLevel(level =>
        {
            var dx = new float[n];
            Gelu.Backward(dy, x, dx);
            Close(dx, g, 1e-4, $"gelu backward {level}");
        });
    }

    [Fact]
    public void Gelu_multithreaded_matches_reference()
    {
        const int n = 70_001;
        var x = Random(new Random(3), n, 5);
        var dy = Random(new Random(4), n);
        var y = new float[n];
        Gelu.Forward(x, y);
        Close(y, GeluRef(ToDouble(x)), 2e-6, "parallel gelu");
        var dx = new float[n];
        Gelu.Backward(dy, x, dx);
        var dx1 = new float[n];
        WithThreads(1, () => Gelu.Backward(dy, x, dx1));
        Assert.Equal(dx1, dx);
    }

    [Theory]
    [InlineData(2, 5)]
    [InlineData(3, 37)]
    [InlineData(2, 64)]
    public void SwiGlu_forward_matches_reference(int n, int ff)
    {
        var gateUp = Random(new Random(ff), n * 2 * ff, 6);
        var expected = SwiGluRef(ToDouble(gateUp), n, ff);
        ForEachLevel(level =>
        {
            var y = new float[n * ff];
            SwiGlu.Forward(gateUp, y, n, ff);
            Close(y, expected, 2e-6, $"swiglu {level}");
        });
    }

    [Fact]
    public void SwiGlu_backward_matches_finite_differences_and_saturates()
    {
        const int n = 3, ff = 21;
        var gateUp = Random(new Random(7), n * 2 * ff, 5);
        gateUp[0] = -200f;   // silu → −0 and its slope → 0, no NaN
        gateUp[1] = 200f;    // silu → g
        var dy = Random(new Random(8), n * ff);
        var dyd = ToDouble(dy);
        var g = NumericGradient(v => Dot(dyd, SwiGluRef(v, n, ff)), ToDouble(gateUp));
        ForEachLevel(level =>
        {
            var d = Enumerable.Repeat(float.NaN, n * 2 * ff).ToArray(); // Backward writes every element
            SwiGlu.Backward(dy, gateUp, d, n, ff);
            Close(d, g, 1e-4, $"swiglu backward {level}");
            var y = new float[n * ff];
            SwiGlu.Forward(gateUp, y, n, ff);
            Assert.True(float.IsFinite(y[0]) && float.IsFinite(y[1]));
        });
    }

    [Fact]
    public void SwiGlu_multithreaded_matches_single_thread()
    {
        const int n = 40, ff = 1000;
        var gateUp = Random(new Random(9), n * 2 * ff, 4);
        var dy = Random(new Random(10), n * ff);
        float[] y = new float[n * ff], d = new float[2 * n * ff], y1 = new float[n * ff], d1 = new float[2 * n * ff];
        SwiGlu.Forward(gateUp, y, n, ff);
        SwiGlu.Backward(dy, gateUp, d, n, ff);
        Close(y, SwiGluRef(ToDouble(gateUp), n, ff), 2e-6, "parallel swiglu");
        WithThreads(1, () => { SwiGlu.Forward(gateUp, y1, n, ff); SwiGlu.Backward(dy, gateUp, d1, n, ff); });
        Assert.Equal(y1, y);
        Assert.Equal(d1, d);
    }

    [Theory]
    [InlineData(3, 7)]
    [InlineData(50, 700)]  // 35,000 elements: the multithreaded path
    public void Bias_forward_and_backward(int n, int c)
    {
        var x = Random(new Random(c), n * c);
        var b = Random(new Random(c + 1), c);
        var dy = Random(new Random(c + 2), n * c);
        double[] xd = ToDouble(x), bd = ToDouble(b), dyd = ToDouble(dy);
        var expected = BiasRef(xd, bd, n, c);
        var gb = n * c < 100 ? NumericGradient(v => Dot(dyd, BiasRef(xd, v, n, c)), bd) : ColumnSums(dyd, n, c);
        ForEachLevel(level =>
        {
            var y = (float[])x.Clone();
            Bias.Forward(y, b, n, c);
            Close(y, expected, 1e-6, $"bias {level}");
            var db0 = Random(new Random(5), c);
            var db = (float[])db0.Clone();
            Bias.Backward(dy, db, n, c);
            Close(Delta(db, db0), gb, 1e-4, $"dBias {level}");
        });
    }

    static double[] ColumnSums(double[] a, int n, int c)
    {
        var s = new double[c];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < c; j++) s[j] += a[r * c + j];
        return s;
    }

    [Fact]
    public void Wrong_shapes_are_rejected_with_both_shapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gelu.Forward(new float[10], new float[9]));
        Assert.Contains("9", ex.Message);
        Assert.Contains("[10]", ex.Message);
        Assert.Throws<ArgumentException>(() => Gelu.Backward(new float[10], new float[10], new float[11]));
        ex = Assert.Throws<ArgumentException>(() => SwiGlu.Forward(new float[2 * 3 * 4], new float[2 * 3], 2, 3));
        Assert.Contains("gateUp", ex.Message);
        Assert.Contains("[n=2, 2·ff=6]", ex.Message);
        Assert.Throws<ArgumentException>(() => SwiGlu.Backward(new float[6], new float[12], new float[11], 2, 3));
        ex = Assert.Throws<ArgumentException>(() => Bias.Forward(new float[12], new float[5], 3, 4));
        Assert.Contains("bias", ex.Message);
        Assert.Throws<ArgumentException>(() => Bias.Backward(new float[11], new float[4], 3, 4));
    }
}
