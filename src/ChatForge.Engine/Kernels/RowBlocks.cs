namespace ChatForge.Engine.Kernels;

/// <summary>
/// Splits row-wise (or column-wise) kernel work over <see cref="KernelThreads"/> once it is big enough to pay
/// for the hand-off to the thread pool (a few microseconds); below that the caller runs inline and allocates nothing.
/// </summary>
internal static class RowBlocks
{
    /// <summary>Elements of work below which a kernel stays on the calling thread.</summary>
    public const long MinParallelWork = 32 * 1024;

    public static bool ShouldSplit(int items, long workPerItem) =>
        KernelThreads.Count > 1 && items > 1 && items * workPerItem >= MinParallelWork;

    /// <summary>Runs body(lo, hi) over contiguous blocks covering [0, items), a few blocks per thread so one slow core does not stall the rest.</summary>
    public static void For(int items, Action<int, int> body)
    {
        int blocks = Math.Min(items, KernelThreads.Count * 4);
        KernelThreads.For(0, blocks, b => body((int)((long)items * b / blocks), (int)((long)items * (b + 1) / blocks)));
    }

    /// <summary>Like <see cref="For"/> but block edges fall on multiples of <paramref name="granule"/> (whole vectors for column blocks).</summary>
    public static void ForAligned(int items, int granule, Action<int, int> body)
    {
        int units = (items + granule - 1) / granule;
        int blocks = Math.Min(units, KernelThreads.Count * 2);
        KernelThreads.For(0, blocks, b =>
        {
            int lo = (int)((long)units * b / blocks) * granule;
            int hi = Math.Min(items, (int)((long)units * (b + 1) / blocks) * granule);
            body(lo, hi);
        });
    }
}
