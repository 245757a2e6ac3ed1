using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// Rotary position embedding in the Hugging Face "rotate_half" convention: within each head, element i pairs with
/// i + headDim/2 and the pair is rotated by the angle of (position, i). Positions come per row, so training passes
/// t and decode passes the KV-cache length. Everything is in place.
/// </summary>
public static class Rope
{
    /// <summary>Rotates the q and k heads of fused qkv rows [n, (nHeads + 2·nKvHeads)·headDim] in place; v is untouched. n = positions.Length.</summary>
    public static void Forward(Span<float> qkv, ReadOnlySpan<int> positions, RopeTable table, int nHeads, int nKvHeads, int headDim) =>
        Apply("Rope.Forward", qkv, positions, table, nHeads, nKvHeads, headDim, inverse: false);

    /// <summary>Backward of <see cref="Forward(Span{float}, ReadOnlySpan{int}, RopeTable, int, int, int)"/>: rotates dq and dk back in place (the transpose of a rotation is its inverse); dv is untouched.</summary>
    public static void Backward(Span<float> dQkv, ReadOnlySpan<int> positions, RopeTable table, int nHeads, int nKvHeads, int headDim) =>
        Apply("Rope.Backward", dQkv, positions, table, nHeads, nKvHeads, headDim, inverse: true);

    /// <summary>Rotates every head of rows [n, nHeads·headDim] in place (q alone, or k alone, e.g. before writing the KV cache).</summary>
    public static void Forward(Span<float> x, ReadOnlySpan<int> positions, RopeTable table, int nHeads, int headDim) =>
        Apply("Rope.Forward", x, positions, table, nHeads, 0, headDim, inverse: false, vHeads: 0);

    /// <summary>Backward of the single-tensor <see cref="Forward(Span{float}, ReadOnlySpan{int}, RopeTable, int, int)"/>.</summary>
    public static void Backward(Span<float> dx, ReadOnlySpan<int> positions, RopeTable table, int nHeads, int headDim) =>
        Apply("Rope.Backward", dx, positions, table, nHeads, 0, headDim, inverse: true, vHeads: 0);

    static unsafe void Apply(string k, Span<float> data, ReadOnlySpan<int> positions, RopeTable table, int nHeads, int nKvHeads, int headDim,
        bool inverse, int vHeads = -1)
    {
        ArgumentNullException.ThrowIfNull(table);
        KernelArgs.Positive(k, nameof(nHeads), nHeads);
        KernelArgs.NonNegative(k, nameof(nKvHeads), nKvHeads);
        if (headDim != table.HeadDim)
            throw new ArgumentException($"{k}: headDim {headDim} does not match the RoPE table's head dimension {table.HeadDim}.", nameof(headDim));
        if (vHeads < 0) vHeads = nKvHeads;
        int rotated = nHeads + nKvHeads;
        int width = (rotated + vHeads) * headDim;
        int n = positions.Length;
        KernelArgs.Length(k, "rows", data.Length, (long)n * width,
            vHeads == 0 ? $"[n={n}, heads·headDim={nHeads}·{headDim}]" : $"[n={n}, (nHeads + 2·nKvHeads)·headDim=({nHeads} + 2·{nKvHeads})·{headDim}]");
        for (int r = 0; r < n; r++)
            if ((uint)positions[r] >= (uint)table.MaxPositions)
                throw new ArgumentOutOfRangeException(nameof(positions), positions[r], $"{k}: position {positions[r]} at row {r} is outside the RoPE table [0, {table.MaxPositions}).");
        var level = Simd.Level;

        if (!RowBlocks.ShouldSplit(n, rotated * headDim))
        {
            Rows(data, positions, table, width, rotated, headDim, inverse, level, 0, n);
            return;
        }
        fixed (float* pd = data)
        fixed (int* pp = positions)
        {
            float* ad = pd;
            int* ap = pp;
            int len = data.Length;
            RowBlocks.For(n, (lo, hi) => Rows(new Span<float>(ad, len), new ReadOnlySpan<int>(ap, n), table, width, rotated, headDim, inverse, level, lo, hi));
        }
    }

    static void Rows(Span<float> data, ReadOnlySpan<int> positions, RopeTable table, int width, int rotatedHeads, int headDim,
        bool inverse, SimdLevel level, int r0, int r1)
    {
        int half = headDim / 2;
        // The inverse rotation is the same rotation with −sin.
        for (int r = r0; r < r1; r++)
        {
            ref float cos = ref MemoryMarshal.GetReference(table.Cos(positions[r]));
            ref float sin = ref MemoryMarshal.GetReference(table.Sin(positions[r]));
            for (int h = 0; h < rotatedHeads; h++)
            {
                ref float lo = ref MemoryMarshal.GetReference(data.Slice(r * width + h * headDim, headDim));
                ref float hi = ref Unsafe.Add(ref lo, half);
                int i = 0;
                if (level == SimdLevel.Vector512)
                {
                    for (; i <= half - 16; i += 16)
                    {
                        var c = Vector512.LoadUnsafe(ref cos, (nuint)i);
                        var s = Vector512.LoadUnsafe(ref sin, (nuint)i);
                        if (inverse) s = -s;
                        var a = Vector512.LoadUnsafe(ref lo, (nuint)i);
                        var b = Vector512.LoadUnsafe(ref hi, (nuint)i);
                        (a * c - b * s).StoreUnsafe(ref lo, (nuint)i);
                        (b * c + a * s).StoreUnsafe(ref hi, (nuint)i);
                    }
                }
                else if (level == SimdLevel.Vector256)
                {
                    for (; i <= half - 8; i += 8)
                    {
                        var c = Vector256.LoadUnsafe(ref cos, (nuint)i);
                        var s = Vector256.LoadUnsafe(ref sin, (nuint)i);
                        if (inverse) s = -s;
                        var a = Vector256.LoadUnsafe(ref lo, (nuint)i);
                        var b = Vector256.LoadUnsafe(ref hi, (nuint)i);
                        (a * c - b * s).StoreUnsafe(ref lo, (nuint)i);
                        (b * c + a * s).StoreUnsafe(ref hi, (nuint)i);
                    }
                }
                for (; i < half; i++)
                {
                    float c = Unsafe.Add(ref cos, i), s = inverse ? -Unsafe.Add(ref sin, i) : Unsafe.Add(ref sin, i);
                    float a = Unsafe.Add(ref lo, i), b = Unsafe.Add(ref hi, i);
                    Unsafe.Add(ref lo, i) = a * c - b * s;
                    Unsafe.Add(ref hi, i) = b * c + a * s;
                }
            }
        }
    }
}
