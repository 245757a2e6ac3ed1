using System.Runtime.Intrinsics;
using ChatForge.Engine.Kernels;

namespace ChatForge.Engine.Tests.Kernels;

public class VectorExpTests
{
    [Fact]
    public void Exp_is_within_two_ulp_over_the_float_range_and_handles_edges()
    {
        double worst256 = 0, worst512 = 0;
        for (float x = -87.3f; x < 88.3f; x += 0.00731f)
        {
            double exact = Math.Exp(x);
            worst256 = Math.Max(worst256, Math.Abs(VectorExp.Exp(Vector256.Create(x))[3] - exact) / exact);
            worst512 = Math.Max(worst512, Math.Abs(VectorExp.Exp(Vector512.Create(x))[11] - exact) / exact);
        }
        Assert.True(worst256 < 2.5e-7, $"Vector256 exp relative error {worst256:E3}");
        Assert.True(worst512 < 2.5e-7, $"Vector512 exp relative error {worst512:E3}");
        float[] special = [0f, -0f, 1f, 100f, -100f, float.PositiveInfinity, float.NegativeInfinity, float.NaN];
        double[] expected = [1, 1, Math.E, double.PositiveInfinity, 0, double.PositiveInfinity, 0, double.NaN];
        for (int i = 0; i < special.Length; i++)
        {
            Assert.Equal(expected[i], VectorExp.Exp(Vector256.Create(special[i]))[0], 6);
            Assert.Equal(expected[i], VectorExp.Exp(Vector512.Create(special[i]))[0], 6);
        }
    }
}
