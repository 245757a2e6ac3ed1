using ChatForge.Engine.Kernels;
using static ChatForge.Engine.Tests.Kernels.KernelCheck;

namespace ChatForge.Engine.Tests.Kernels;

[Collection("Simd")]
public class RopeTests
{
    /// <summary>Hugging Face apply_rotary_pos_emb in float64: q·cos + rotate_half(q)·sin on the q and k heads.</summary>
    static double[] Ref(double[] qkv, int[] positions, int nHeads, int nKv, int hd, double theta)
    {
        int width = (nHeads + 2 * nKv) * hd, half = hd / 2;
        var y = (double[])qkv.Clone();
        for (int r = 0; r < positions.Length; r++)
            for (int h = 0; h < nHeads + nKv; h++)
                for (int i = 0; i < half; i++)
                {
                    double angle = positions[r] * Math.Pow(theta, -2.0 * i / hd);
                    int o = r * width + h * hd;
                    double a = qkv[o + i], b = qkv[o + i + half];
                    y[o + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                    y[o + i + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
                }
        return y;
    }

    [Fact]
    public void Rotates_pairs_i_and_i_plus_half_like_hugging_face()
    {
        // headDim 4, θ 10000: inv_freq = [1, 0.01]; position 1 pairs (x0, x2) by 1 rad and (x1, x3) by 0.01 rad.
        var table = new RopeTable(4, 8, 10000f);
        float[] x = [1, 2, 3, 4];
        Rope.Forward(x, [1], table, nHeads: 1, headDim: 4);
        Assert.Equal(1 * Math.Cos(1) - 3 * Math.Sin(1), x[0], 1e-6);
        Assert.Equal(2 * Math.Cos(0.01) - 4 * Math.Sin(0.01), x[1], 1e-6);
        Assert.Equal(3 * Math.Cos(1) + 1 * Math.Sin(1), x[2], 1e-6);
        Assert.Equal(4 * Math.Cos(0.01) + 2 * Math.Sin(0.01), x[3], 1e-6);
    }

    [Fact]
    public void Llama3_scaling_keeps_fast_stretches_slow_and_blends_the_middle_frequencies()
    {
        // Llama 3.2: head_dim 64, θ 500000, factor 32, low 1, high 4, original context 8192, so wavelengths under
        // 2048 tokens are kept and over 8192 divided by 32. Pair 16: inv_freq = 500000^(-1/2) = 1/707.107, wavelength
        // 2π·707.107 = 4442.9 (between the two), smooth = (8192/4442.9 − 1)/3 = 0.28128, so the frequency becomes
        // inv·((1 − 0.28128)/32 + 0.28128) = inv·0.30374.
        var scaling = new ChatForge.Engine.Model.RopeScaling { RopeType = "llama3", Factor = 32, LowFreqFactor = 1, HighFreqFactor = 4, OriginalContextLength = 8192 };
        var table = new RopeTable(64, 1001, 500000f, scaling);
        const int p = 1000;
        double Angle(int i) => Math.Atan2(table.Sin(p)[i], table.Cos(p)[i]);
        double Wrapped(double a) => Math.Atan2(Math.Sin(a), Math.Cos(a));
        Assert.Equal(Wrapped(p * 1.0), Angle(0), 4);                                    // pair 0: wavelength 2π, kept
        Assert.Equal(Wrapped(p * Math.Pow(500000, -0.5) * 0.303744), Angle(16), 4);     // blended
        Assert.Equal(Wrapped(p * Math.Pow(500000, -62.0 / 64) / 32), Angle(31), 5);      // slowest: stretched ×32
        var plain = new RopeTable(64, 1001, 500000f);
        Assert.Equal(plain.Cos(p)[5], table.Cos(p)[5]);                                   // fast pairs are bit-identical
    }

    [Fact]
    public void Linear_scaling_divides_every_frequency()
    {
        var table = new RopeTable(8, 100, 10000f, new ChatForge.Engine.Model.RopeScaling { RopeType = "linear", Factor = 4 });
        var plain = new RopeTable(8, 100, 10000f);
        for (int i = 0; i < 4; i++) Assert.Equal(plain.Cos(20)[i], table.Cos(80)[i], 6); // position 80 scaled = position 20 plain
    }

    [Theory]
    [InlineData(4, 2, 8)]
    [InlineData(2, 1, 32)]
    [InlineData(3, 3, 40)]
    [InlineData(2, 2, 128)]
    public void Forward_matches_reference_and_leaves_v_alone(int nHeads, int nKv, int hd)
    {
        var rng = new Random(hd);
        const float theta = 500000f;
        var table = new RopeTable(hd, 4096, theta);
        int[] positions = [0, 5, 17, 4095, 1000]; // arbitrary per-row positions, as in batched decode
        int width = (nHeads + 2 * nKv) * hd;
        var qkv = Random(rng, positions.Length * width);
        var expected = Ref(ToDouble(qkv), positions, nHeads, nKv, hd, theta);
        ForEachLevel(level =>
        {
            var y = (float[])qkv.Clone();
            Rope.Forward(y, positions, table, nHeads, nKv, hd);
            Close(y, expected, 1e-5, $"rope {level}");
            for (int r = 0; r < positions.Length; r++)
                for (int j = (nHeads + nKv) * hd; j < width; j++)
                    Assert.Equal(qkv[r * width + j], y[r * width + j]);
            Rope.Backward(y, positions, table, nHeads, nKv, hd); // a rotation's transpose is its inverse
            Close(y, ToDouble(qkv), 1e-5, $"rope round trip {level}");
        });
    }

    [Fact]
    public void Backward_matches_finite_differences()
    {
        const int nHeads = 2, nKv = 1, hd = 36, n = 3;
        var rng = new Random(5);
        var table = new RopeTable(hd, 64, 10000f);
        int[] positions = [3, 0, 63];
        int width = (nHeads + 2 * nKv) * hd;
        var qkv = Random(rng, n * width);
        var dy = Random(rng, n * width);
        double[] dyd = ToDouble(dy);
        var g = NumericGradient(v => Dot(dyd, Ref(v, positions, nHeads, nKv, hd, 10000)), ToDouble(qkv));
        ForEachLevel(level =>
        {
            var d = (float[])dy.Clone();
            Rope.Backward(d, positions, table, nHeads, nKv, hd);
            Close(d, g, 1e-4, $"rope backward {level}");
        });
    }

    [Fact]
    public void Multithreaded_rows_match_reference()
    {
        const int nHeads = 8, nKv = 2, hd = 64, n = 96; // 61,440 rotated elements
        var table = new RopeTable(hd, 256, 10000f);
        var positions = Enumerable.Range(0, n).Select(i => (i * 5) % 256).ToArray();
        var qkv = Random(new Random(8), n * (nHeads + 2 * nKv) * hd);
        var expected = Ref(ToDouble(qkv), positions, nHeads, nKv, hd, 10000);
        var y = (float[])qkv.Clone();
        Rope.Forward(y, positions, table, nHeads, nKv, hd);
        Close(y, expected, 1e-5, "parallel rope");
    }

    [Fact]
    public void Table_is_accurate_at_long_positions()
    {
        var table = new RopeTable(128, 40000, 1000000f);
        double angle = 39999 * Math.Pow(1000000.0, -2.0 * 3 / 128);
        Assert.Equal(Math.Cos(angle), table.Cos(39999)[3], 1e-6);
        Assert.Equal(Math.Sin(angle), table.Sin(39999)[3], 1e-6);
    }

    [Fact]
    public void Bad_arguments_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new RopeTable(7, 10, 10000f));
        Assert.Throws<ArgumentException>(() => new RopeTable(8, 0, 10000f));
        Assert.Throws<ArgumentException>(() => new RopeTable(8, 10, float.NaN));
        var table = new RopeTable(8, 10, 10000f);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Rope.Forward(new float[2 * 32], [0, 10], table, 2, 1, 8));
        Assert.Contains("position 10", ex.Message);
        var sex = Assert.Throws<ArgumentException>(() => Rope.Forward(new float[2 * 31], [0, 1], table, 2, 1, 8));
        Assert.Contains("62", sex.Message);
        Assert.Contains("n=2", sex.Message);
        Assert.Throws<ArgumentException>(() => Rope.Forward(new float[2 * 32], [0, 1], table, 2, 1, 16));
    }
}
