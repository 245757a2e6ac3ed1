namespace ChatForge.Engine.Kernels;

/// <summary>
/// One pinned float buffer per worker thread, grown on demand and reused by every call on that thread, so the
/// blocked kernels allocate nothing in their hot loops. A kernel must not hold its span across a call to
/// another kernel that uses scratch on the same thread.
/// </summary>
internal static unsafe class ThreadScratch
{
    [ThreadStatic] static float[]? t_buffer;

    /// <summary>A pointer to at least <paramref name="floats"/> floats, 64-byte aligned, contents undefined.</summary>
    public static float* Get(int floats)
    {
        var buffer = t_buffer;
        if (buffer == null || buffer.Length < floats + 16)
        {
            buffer = GC.AllocateUninitializedArray<float>(Math.Max(floats + 16, (buffer?.Length ?? 0) * 3 / 2), pinned: true);
            t_buffer = buffer;
        }
        fixed (float* p = buffer)
        {
            // Pinned-heap arrays never move, so the pointer stays valid after the fixed block ends.
            return (float*)(((nint)p + 63) & ~(nint)63);
        }
    }
}
