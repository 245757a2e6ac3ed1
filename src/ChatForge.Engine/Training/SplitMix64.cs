namespace ChatForge.Engine.Training;

/// <summary>
/// A tiny random generator whose whole state is one ulong, so a checkpoint can store it
/// (TrainerState.RngState) and a resumed run draws exactly the same numbers. (System.Random's state
/// cannot be saved.) Algorithm: SplitMix64 (Steele, Lea, Flood 2014).
/// </summary>
public struct SplitMix64(ulong state)
{
    public ulong State = state;

    public ulong NextUInt64()
    {
        ulong z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, bound) without modulo bias (Lemire's multiply-shift with rejection).</summary>
    public long NextInt64(long bound)
    {
        if (bound <= 0) throw new ArgumentOutOfRangeException(nameof(bound), bound, "Bound must be positive.");
        ulong b = (ulong)bound;
        ulong threshold = (0UL - b) % b;
        while (true)
        {
            ulong x = NextUInt64();
            UInt128 product = (UInt128)x * b;
            if ((ulong)product >= threshold) return (long)(ulong)(product >> 64);
        }
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Standard normal via Box–Muller (one value per call; simple beats fast for weight init).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]: log stays finite
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
