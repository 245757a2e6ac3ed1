using ChatForge.Engine.Kernels;
using static ChatForge.Engine.Tests.Kernels.KernelCheck;

namespace ChatForge.Engine.Tests.Kernels;

[Collection("Simd")]
public class NormTests
{
    // Widths that hit the 64-wide unrolled body, the single-vector loop and the scalar tail of every level.
    public static readonly TheoryData<int, int> Shapes = new() { { 1, 1 }, { 3, 7 }, { 2, 37 }, { 3, 70 }, { 2, 200 } };

    static double[] LayerNormRef(double[] x, double[] w, double[]? b, int n, int c, double eps)
    {
        var y = new double[n * c];
        for (int r = 0; r < n; r++)
        {
            double mean = 0, variance = 0;
            for (int j = 0; j < c; j++) mean += x[r * c + j];
            mean /= c;
            for (int j = 0; j < c; j++) variance += (x[r * c + j] - mean) * (x[r * c + j] - mean);
            variance /= c;
            double rstd = 1 / Math.Sqrt(variance + eps);
            for (int j = 0; j < c; j++) y[r * c + j] = (x[r * c + j] - mean) * rstd * w[j] + (b is null ? 0 : b[j]);
        }
        return y;
    }

    static double[] RmsNormRef(double[] x, double[] w, int n, int c, double eps)
    {
        var y = new double[n * c];
        for (int r = 0; r < n; r++)
        {
            double ms = 0;
            for (int j = 0; j < c; j++) ms += x[r * c + j] * x[r * c + j];
            double rstd = 1 / Math.Sqrt(ms / c + eps);
            for (int j = 0; j < c; j++) y[r * c + j] = x[r * c + j] * rstd * w[j];
        }
        return y;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LayerNorm_forward_matches_float64_reference(int n, int c)
    {
        var rng = new Random(n * 100 + c);
        // A large common offset: a one-pass E[x²] − E[x]² variance would lose every digit here.
        var x = Random(rng, n * c, scale: 2, offset: 300);
        var w = Random(rng, c, 1, 1);
        var b = Random(rng, c);
        var expected = LayerNormRef(ToDouble(x), ToDouble(w), ToDouble(b), n, c, 1e-5);
        var expectedNoBias = LayerNormRef(ToDouble(x), ToDouble(w), null, n, c, 1e-5);
        ForEachLevel(level =>
        {
            var y = new float[n * c];
            var mean = new float[n];
            var rstd = new float[n];
            LayerNorm.Forward(x, w, b, y, mean, rstd, n, c, 1e-5f);
            Close(y, expected, 1e-4, $"LayerNorm {level}");
            LayerNorm.Forward(x, w, ReadOnlySpan<float>.Empty, y, mean, rstd, n, c, 1e-5f);
            Close(y, expectedNoBias, 1e-4, $"LayerNorm without bias {level}");
            for (int r = 0; r < n; r++)
            {
                double m = 0;
                for (int j = 0; j < c; j++) m += x[r * c + j];
                Assert.Equal(m / c, mean[r], 1e-3);
            }
        });
    }

    [Theory]
    [InlineData(3, 37)]
    [InlineData(2, 70)]
    [InlineData(2, 5)]
    public void LayerNorm_backward_matches_finite_differences(int n, int c)
    {
        var rng = new Random(7 + c);
        var x = Random(rng, n * c, 1.5, 0.5);
        var w = Random(rng, c, 1, 1);
        var b = Random(rng, c);
        var dy = Random(rng, n * c);
        double[] xd = ToDouble(x), wd = ToDouble(w), bd = ToDouble(b), dyd = ToDouble(dy);
        var gx = NumericGradient(v => Dot(dyd, LayerNormRef(v, wd, bd, n, c, 1e-5)), xd);
        var gw = NumericGradient(v => Dot(dyd, LayerNormRef(xd, v, bd, n, c, 1e-5)), wd);
        var gb = NumericGradient(v => Dot(dyd, LayerNormRef(xd, wd, v, n, c, 1e-5)), bd);
        ForEachLevel(level =>
        {
            var y = new float[n * c];
            var mean = new float[n];
            var rstd = new float[n];
            LayerNorm.Forward(x, w, b, y, mean, rstd, n, c, 1e-5f);
            // Pre-filled gradients: LayerNorm's backward accumulates into all three.
            var dx0 = Random(new Random(1), n * c);
            var dw0 = Random(new Random(2), c);
            var db0 = Random(new Random(3), c);
            float[] dx = (float[])dx0.Clone(), dw = (float[])dw0.Clone(), db = (float[])db0.Clone();
            LayerNorm.Backward(dy, x, w, mean, rstd, dx, dw, db, n, c);
            Close(Delta(dx, dx0), gx, 1e-3, $"LayerNorm dx {level}");
            Close(Delta(dw, dw0), gw, 1e-3, $"LayerNorm dWeight {level}");
            Close(Delta(db, db0), gb, 1e-3, $"LayerNorm dBias {level}");
        });
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RmsNorm_forward_matches_float64_reference(int n, int c)
    {
        var rng = new Random(n * 31 + c);
        var x = Random(rng, n * c, 3, 0.5);
        var w = Random(rng, c, 1, 1);
        var expected = RmsNormRef(ToDouble(x), ToDouble(w), n, c, 1e-6);
        ForEachLevel(level =>
        {
            var y = new float[n * c];
            var rstd = new float[n];
            RmsNorm.Forward(x, w, y, rstd, n, c, 1e-6f);
            Close(y, expected, 1e-4, $"RmsNorm {level}");
        });
    }

    [Theory]
    [InlineData(3, 37)]
    [InlineData(2, 70)]
    [InlineData(2, 5)]
    public void RmsNorm_backward_matches_finite_differences(int n, int c)
    {
        var rng = new Random(11 + c);
        var x = Random(rng, n * c, 1.5, 0.2);
        var w = Random(rng, c, 1, 1);
        var dy = Random(rng, n * c);
        double[] xd = ToDouble(x), wd = ToDouble(w), dyd = ToDouble(dy);
        var gx = NumericGradient(v => Dot(dyd, RmsNormRef(v, wd, n, c, 1e-6)), xd);
        var gw = NumericGradient(v => Dot(dyd, RmsNormRef(xd, v, n, c, 1e-6)), wd);
        ForEachLevel(level =>
        {
            var y = new float[n * c];
            var rstd = new float[n];
            RmsNorm.Forward(x, w, y, rstd, n, c, 1e-6f);
            var dx0 = Random(new Random(4), n * c);
            var dw0 = Random(new Random(5), c);
            float[] dx = (float[])dx0.Clone(), dw = (float[])dw0.Clone();
            RmsNorm.Backward(dy, x, w, rstd, dx, dw, n, c);
            Close(Delta(dx, dx0), gx, 1e-3, $"RmsNorm dx {level}");
            Close(Delta(dw, dw0), gw, 1e-3, $"RmsNorm dWeight {level}");
        });
    }

    [Fact]
    public void Multithreaded_norms_match_reference_and_single_thread()
    {
        const int n = 64, c = 600; // 38,400 elements: above the threshold where rows are split over threads
        var rng = new Random(3);
        var x = Random(rng, n * c, 2, 1);
        var w = Random(rng, c, 1, 1);
        var b = Random(rng, c);
        var dy = Random(rng, n * c);
        var expected = LayerNormRef(ToDouble(x), ToDouble(w), ToDouble(b), n, c, 1e-5);
        var expectedRms = RmsNormRef(ToDouble(x), ToDouble(w), n, c, 1e-5);

        (float[] y, float[] dx, float[] dw, float[] db, float[] yr, float[] dxr, float[] dwr) Run()
        {
            float[] y = new float[n * c], mean = new float[n], rstd = new float[n], dx = new float[n * c], dw = new float[c], db = new float[c];
            LayerNorm.Forward(x, w, b, y, mean, rstd, n, c, 1e-5f);
            LayerNorm.Backward(dy, x, w, mean, rstd, dx, dw, db, n, c);
            float[] yr = new float[n * c], dxr = new float[n * c], dwr = new float[c];
            RmsNorm.Forward(x, w, yr, rstd, n, c, 1e-5f);
            RmsNorm.Backward(dy, x, w, rstd, dxr, dwr, n, c);
            return (y, dx, dw, db, yr, dxr, dwr);
        }

        ForEachLevel(level =>
        {
            var parallel = Run();
            Close(parallel.y, expected, 1e-4, $"LayerNorm parallel {level}");
            Close(parallel.yr, expectedRms, 1e-4, $"RmsNorm parallel {level}");
            var serial = default((float[] y, float[] dx, float[] dw, float[] db, float[] yr, float[] dxr, float[] dwr));
            WithThreads(1, () => serial = Run());
            Close(parallel.dx, ToDouble(serial.dx), 1e-6, "LayerNorm dx parallel vs serial");
            Close(parallel.dw, ToDouble(serial.dw), 1e-6, "LayerNorm dWeight parallel vs serial");
            Close(parallel.db, ToDouble(serial.db), 1e-6, "LayerNorm dBias parallel vs serial");
            Close(parallel.dxr, ToDouble(serial.dxr), 1e-6, "RmsNorm dx parallel vs serial");
            Close(parallel.dwr, ToDouble(serial.dwr), 1e-6, "RmsNorm dWeight parallel vs serial");
        });
    }

    [Fact]
    public void Wrong_shapes_name_expected_and_actual_sizes()
    {
        var x = new float[4 * 8];
        var ex = Assert.Throws<ArgumentException>(() => LayerNorm.Forward(x, new float[8], new float[8], new float[30], new float[4], new float[4], 4, 8, 1e-5f));
        Assert.Contains("output", ex.Message);
        Assert.Contains("30", ex.Message);
        Assert.Contains("[n=4, c=8]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => LayerNorm.Forward(x, new float[7], new float[8], new float[32], new float[4], new float[4], 4, 8, 1e-5f));
        Assert.Contains("weight", ex.Message);
        Assert.Throws<ArgumentException>(() => LayerNorm.Forward(x, new float[8], new float[8], new float[32], new float[3], new float[4], 4, 8, 1e-5f));
        Assert.Throws<ArgumentException>(() => LayerNorm.Forward(x, new float[8], new float[8], new float[32], new float[4], new float[4], 4, 8, 0f));
        Assert.Throws<ArgumentException>(() => LayerNorm.Backward(new float[32], x, new float[8], new float[4], new float[4], new float[32], new float[8], new float[9], 4, 8));
        ex = Assert.Throws<ArgumentException>(() => RmsNorm.Forward(new float[33], new float[8], new float[32], new float[4], 4, 8, 1e-6f));
        Assert.Contains("33", ex.Message);
        Assert.Contains("[n=4, c=8]", ex.Message);
        Assert.Throws<ArgumentException>(() => RmsNorm.Backward(new float[32], x, new float[8], new float[4], new float[32], new float[4], 4, 8));
    }
}
