using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// Copies blocks of op(A) and op(B) into the panel layout the micro-kernels stream through.
/// The transpose variants are resolved here, so every micro-kernel sees the same layout:
/// an A panel is MR rows of op(A) interleaved per k step ([kc][MR]), a B panel is NR columns of op(B) per k step ([kc][NR]).
/// Rows/columns beyond the matrix edge are zero so edge tiles can run the full-size kernel.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>Packs op(A)[i0..i0+mc, p0..p0+kc] into ⌈mc/mr⌉ panels of [kc][mr] at dst.</summary>
    public static void PackA(float* a, int m, int k, bool transA, int i0, int mc, int p0, int kc, int mr, float* dst)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dst + (nint)ir * kc;
            if (transA)
            {
                // A stored [k×m]: the mr values of one k step are contiguous.
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (nint)(p0 + p) * m + i0 + ir;
                    float* d = panel + p * mr;
                    int ii = 0;
                    for (; ii < rows; ii++) d[ii] = src[ii];
                    for (; ii < mr; ii++) d[ii] = 0;
                }
            }
            else
            {
                // A stored [m×k]: read each row contiguously, write it with stride mr.
                for (int ii = 0; ii < rows; ii++)
                {
                    float* src = a + (nint)(i0 + ir + ii) * k + p0;
                    float* d = panel + ii;
                    for (int p = 0; p < kc; p++) d[p * mr] = src[p];
                }
                for (int ii = rows; ii < mr; ii++)
                    for (int p = 0; p < kc; p++) panel[p * mr + ii] = 0;
            }
        }
    }

    /// <summary>Packs panels [panelFrom, panelTo) of op(B)[p0..p0+kc, j0..j0+nc], each [kc][nr], at dst + panel·kc·nr.</summary>
    public static void PackB(float* b, int k, int n, bool transB, int p0, int kc, int j0, int nc, int nr, int panelFrom, int panelTo, float* dst)
    {
        for (int panelIndex = panelFrom; panelIndex < panelTo; panelIndex++)
        {
            int jr = panelIndex * nr;
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (nint)jr * kc;
            if (!transB)
            {
                // B stored [k×n]: one k step of the panel is a contiguous run of one B row.
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + (nint)(p0 + p) * n + j0 + jr;
                    float* d = panel + p * nr;
                    Buffer.MemoryCopy(src, d, cols * sizeof(float), cols * sizeof(float));
                    for (int jj = cols; jj < nr; jj++) d[jj] = 0;
                }
            }
            else
            {
                // B stored [n×k] (a Linear weight): read each weight row contiguously, write with stride nr.
                for (int jj = 0; jj < cols; jj++)
                {
                    float* src = b + (nint)(j0 + jr + jj) * k + p0;
                    float* d = panel + jj;
                    for (int p = 0; p < kc; p++) d[p * nr] = src[p];
                }
                for (int jj = cols; jj < nr; jj++)
                    for (int p = 0; p < kc; p++) panel[p * nr + jj] = 0;
            }
        }
    }

    /// <summary>
    /// As <see cref="PackB"/> with transB for a bf16 weight in <see cref="Bf16Matrix"/> panels (data, panelStride):
    /// widens while packing, vectorised when the packed panels are whole weight panels wide (NR 16 on AVX2, 32 on
    /// AVX-512), one weight at a time otherwise (the scalar path's NR 4, and an odd k's last input).
    /// </summary>
    public static void PackBBf16(ushort* w, int panelStride, int p0, int kc, int j0, int nc, int nr, int panelFrom, int panelTo, float* dst)
    {
        const int PW = Bf16Matrix.PanelWidth;
        for (int panelIndex = panelFrom; panelIndex < panelTo; panelIndex++)
        {
            int jr = panelIndex * nr;
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (nint)jr * kc;
            int j = j0 + jr, p = 0;
            if (nr % PW == 0 && j % PW == 0 && (p0 & 1) == 0 && Vector256.IsHardwareAccelerated)
            {
                // Each 16-column slice of the packed panel is one weight panel's k range (zeros past the matrix's last
                // row, and past its last panel), so each input pair becomes two packed rows with a shift and a mask.
                var high = Vector256.Create(0xFFFF0000u);
                int pairs = kc / 2;
                for (int slice = 0; slice < nr; slice += PW)
                {
                    float* d = panel + slice;
                    if (slice >= cols)
                    {
                        for (int q = 0; q < pairs; q++, d += 2 * nr) { Vector256<float>.Zero.Store(d); Vector256<float>.Zero.Store(d + 8); Vector256<float>.Zero.Store(d + nr); Vector256<float>.Zero.Store(d + nr + 8); }
                        continue;
                    }
                    uint* u = (uint*)(w + (nint)((j + slice) / PW) * panelStride + (p0 >> 1) * Bf16Matrix.PairStride);
                    for (int q = 0; q < pairs; q++, u += PW, d += 2 * nr)
                    {
                        var lo = Vector256.Load(u);
                        var hi = Vector256.Load(u + 8);
                        Vector256.ShiftLeft(lo, 16).AsSingle().Store(d);
                        Vector256.ShiftLeft(hi, 16).AsSingle().Store(d + 8);
                        (lo & high).AsSingle().Store(d + nr);
                        (hi & high).AsSingle().Store(d + nr + 8);
                    }
                }
                p = 2 * pairs;
            }
            for (; p < kc; p++)
            {
                int k = p0 + p;
                ushort* pair = w + (k >> 1) * Bf16Matrix.PairStride + (k & 1);
                float* d = panel + (nint)p * nr;
                for (int jj = 0; jj < cols; jj++)
                {
                    int col = j + jj;
                    d[jj] = Bf16.ToFloat(pair[(nint)(col / PW) * panelStride + col % PW * 2]);
                }
                for (int jj = cols; jj < nr; jj++) d[jj] = 0;
            }
        }
    }
}
