namespace ChatForge.Engine.Kernels;

/// <summary>
/// The SIMD path the layer kernels take: <see cref="Simd.Level"/>, except that tests can run the Vector512 bodies on a
/// CPU without AVX-512. Vector512&lt;T&gt; then executes in software (slow but exact), which is the only way a
/// development machine without AVX-512 can check the code that AVX-512 servers will run.
/// </summary>
internal static class SimdPath
{
    /// <summary>Tests only (serial "Simd" collection): take the Vector512 bodies even when Simd.Best is lower.</summary>
    internal static bool EmulateVector512 { get; set; }

    public static SimdLevel Current => EmulateVector512 ? SimdLevel.Vector512 : Simd.Level;
}
