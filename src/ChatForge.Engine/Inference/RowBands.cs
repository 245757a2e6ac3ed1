using ChatForge.Engine.Kernels;

namespace ChatForge.Engine.Inference;

/// <summary>
/// How the small-batch (decode) kernels of quantised weights split their output rows over the kernel threads:
/// one contiguous band per thread, a multiple of 64 rows so no two threads share a cache line of y, and no second
/// thread at all below <see cref="ParallelThreshold"/> multiply-adds, where waking it costs more than it saves.
/// </summary>
internal static class RowBands
{
    /// <summary>Rows beyond this many x rows go through a dequantised fp32 GEMM instead (prefill).</summary>
    public const int DecodeMaxRows = 8;
    const int RowsPerPart = 64;
    const long ParallelThreshold = 1 << 17;

    /// <summary>Runs body(j0, j1) over [0, <paramref name="rows"/>) in bands, for a kernel of <paramref name="multiplyAdds"/> multiply-adds.</summary>
    public static void For(long multiplyAdds, int rows, Action<int, int> body)
    {
        int threads = multiplyAdds >= ParallelThreshold ? Math.Min(KernelThreads.Count, (rows + RowsPerPart - 1) / RowsPerPart) : 1;
        if (threads <= 1) { body(0, rows); return; }
        int band = (rows + threads * RowsPerPart - 1) / (threads * RowsPerPart) * RowsPerPart;
        KernelThreads.For(0, threads, t => body(t * band, Math.Min(rows, (t + 1) * band)));
    }
}
