namespace ChatForge.Cli.Bench;

public static class BenchStats
{
    /// <summary>The middle value (the mean of the middle two for an even count): what the benchmarks report, since single runs on a shared machine move by ±20%.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) throw new ArgumentException("Median of no values.", nameof(values));
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
