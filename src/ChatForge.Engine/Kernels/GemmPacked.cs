namespace ChatForge.Engine.Kernels;

/// <summary>
/// The packed, cache-blocked GEMM driver (the BLIS loop nest). For each NC-wide column block and KC-deep slice of k,
/// op(B) is packed once into NR-column panels (kc·nc floats: stays in L2/L3), then the MC-row blocks of op(A) are
/// handed to the threads; each thread packs its A block ([mc×kc], L2-resident) and sweeps the B panels (one B
/// micro-panel, kc·NR floats, stays in L1 while all MR-row A panels pass it) calling the micro-kernel per MR×NR tile.
/// The AVX2 and AVX-512 kernels read a row-major A in place instead (six or twelve row pointers; broadcasts are scalar
/// loads anyway): packing A costs about 1/n of the multiply, which is 10–20 % at n = 256 (AVX-512, session 9: in place
/// was 10–25 % faster on every training shape, docs/benchmarks.md). A transposed A is still packed: reading it in place
/// would touch a new cache line per k step, with a power-of-two stride that aliases in L1.
/// Threads own disjoint rows (or, when there are too few row blocks, disjoint column panel ranges) of C.
/// </summary>
internal static unsafe class GemmPacked
{
    /// <summary>
    /// Tile and block sizes for one micro-kernel. A B micro-panel (KC·NR·4 bytes) should sit in L1 (32 KiB per core on the
    /// Zen 3 this was tuned on), an A block (MC·KC·4) in L2 (512 KiB), a B block (KC·NC·4) in a share of L3.
    /// AVX2 values are measured (bench gemm, single thread, CPU time): KC 512 beat 256 by ~15 % on k = 1024 (half the
    /// passes over C) and NC 1024 beat 4096 on n = 8192 (a 2 MiB B block survives the other tenants of the shared L3).
    /// The AVX-512 values are the same reasoning for a 32-wide panel, not measured: no AVX-512 CPU was available.
    /// </summary>
    internal readonly record struct Tiling(int MR, int NR, int KC, int MC, int NC);

    internal static Tiling TilingFor(SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => new(GemmKernel512.MR, GemmKernel512.NR, 256, 144, 1024),
        SimdLevel.Vector256 => new(GemmKernel256.MR, GemmKernel256.NR, 512, 72, 1024),
        _ => new(GemmScalar.MR, GemmScalar.NR, 256, 64, 1024),
    };

    [ThreadStatic] static float[]? t_packA;
    [ThreadStatic] static float[]? t_packB;

    /// <summary>A pinned per-thread buffer of at least length floats, 64-byte aligned. Kept for the thread's lifetime so steady-state calls never allocate.</summary>
    static float* ThreadBuffer(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length + 16) buffer = GC.AllocateUninitializedArray<float>(length + 16, pinned: true);
        fixed (float* p = buffer) return (float*)(((nint)p + 63) & ~(nint)63);
    }

    /// <summary>C = (accumulate ? C : 0) + op(A)·op(B); B is either float (b) or a bf16 weight [n×k] in <see cref="Bf16Matrix"/> panels (w with its panel stride, transB implied).</summary>
    public static void Run(float* a, float* b, ushort* w, int wPanelStride, float* c, int m, int n, int k, bool transA, bool transB, bool accumulate, SimdLevel level)
    {
        var t = TilingFor(level);
        int ncMax = Math.Min(t.NC, RoundUp(n, t.NR));
        int kcMax = Math.Min(t.KC, k);
        var job = new Job
        {
            A = a, B = b, W = w, WPanelStride = wPanelStride, C = c, M = m, N = n, K = k, TransA = transA, TransB = transB, Level = level, T = t,
            Bp = ThreadBuffer(ref t_packB, ncMax * kcMax),
        };
        int threads = KernelThreads.Count;
        int rowBlocks = (m + t.MC - 1) / t.MC;
        for (int jc = 0; jc < n; jc += t.NC)
        {
            job.Jc = jc;
            job.Nc = Math.Min(t.NC, n - jc);
            job.Panels = (job.Nc + t.NR - 1) / t.NR;
            // Few row blocks: give each thread a share of the column panels as well, so both cores stay busy.
            job.ColumnSplits = rowBlocks >= 2 * threads ? 1 : Math.Min(job.Panels, (2 * threads + rowBlocks - 1) / rowBlocks);
            job.PanelsPerSplit = (job.Panels + job.ColumnSplits - 1) / job.ColumnSplits;
            for (int pc = 0; pc < k; pc += t.KC)
            {
                job.Pc = pc;
                job.Kc = Math.Min(t.KC, k - pc);
                job.Load = accumulate || pc > 0;
                // Packing B is k·n work shared by all rows; split it too when it is big enough to matter.
                int packParts = (long)job.Kc * job.Nc >= 1 << 16 ? Math.Min(threads, job.Panels) : 1;
                job.PackParts = packParts;
                KernelThreads.For(0, packParts, job.PackBPart);
                KernelThreads.For(0, rowBlocks * job.ColumnSplits, job.RunBlock);
            }
        }
    }

    static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    sealed class Job
    {
        public float* A, B, C, Bp;
        public ushort* W;
        public int WPanelStride;
        public int M, N, K;
        public bool TransA, TransB, Load;
        public SimdLevel Level;
        public Tiling T;
        public int Jc, Nc, Pc, Kc, Panels, ColumnSplits, PanelsPerSplit, PackParts;

        public void PackBPart(int part)
        {
            int per = (Panels + PackParts - 1) / PackParts;
            int from = part * per, to = Math.Min(Panels, from + per);
            if (W != null) GemmPacking.PackBBf16(W, WPanelStride, Pc, Kc, Jc, Nc, T.NR, from, to, Bp);
            else GemmPacking.PackB(B, K, N, TransB, Pc, Kc, Jc, Nc, T.NR, from, to, Bp);
        }

        /// <summary>One MC-row block of C (times one share of the column panels): pack its A block, then sweep the tiles.</summary>
        public void RunBlock(int item)
        {
            int rowBlock = item / ColumnSplits, split = item % ColumnSplits;
            int i0 = rowBlock * T.MC, mc = Math.Min(T.MC, M - i0);
            int panelFrom = split * PanelsPerSplit, panelTo = Math.Min(Panels, panelFrom + PanelsPerSplit);
            if (panelFrom >= panelTo) return;
            int mr = T.MR, nr = T.NR;
            bool inPlace = !TransA && Level is SimdLevel.Vector256 or SimdLevel.Vector512;
            float* ap = ThreadBuffer(ref t_packA, RoundUp(mc, mr) * Kc);
            if (inPlace)
            {
                // Only the last, partial row panel is packed (zero rows below the edge keep the kernel in bounds).
                int full = mc / mr * mr;
                if (full < mc) GemmPacking.PackA(A, M, K, TransA, i0 + full, mc - full, Pc, Kc, mr, ap + (nint)full * Kc);
            }
            else GemmPacking.PackA(A, M, K, TransA, i0, mc, Pc, Kc, mr, ap);
            float* tile = stackalloc float[mr * nr];
            for (int panel = panelFrom; panel < panelTo; panel++)
            {
                int j = panel * nr, cols = Math.Min(nr, Nc - j);
                float* bPanel = Bp + (nint)j * Kc;
                for (int ir = 0; ir < mc; ir += mr)
                {
                    int rows = Math.Min(mr, mc - ir);
                    bool packed = !inPlace || rows < mr;
                    float* aPanel = packed ? ap + (nint)ir * Kc : A + (nint)(i0 + ir) * K + Pc;
                    nint rs = packed ? 1 : K, cs = packed ? mr : 1;
                    float* cTile = C + (nint)(i0 + ir) * N + Jc + j;
                    if (rows == mr && cols == nr)
                    {
                        Kernel(aPanel, rs, cs, bPanel, cTile, N, Load);
                        continue;
                    }
                    // Edge tile: compute the full tile into scratch, copy the part inside C.
                    Kernel(aPanel, rs, cs, bPanel, tile, nr, false);
                    for (int r = 0; r < rows; r++)
                    {
                        float* dst = cTile + (nint)r * N;
                        float* src = tile + r * nr;
                        if (Load) for (int cc = 0; cc < cols; cc++) dst[cc] += src[cc];
                        else for (int cc = 0; cc < cols; cc++) dst[cc] = src[cc];
                    }
                }
            }
        }

        void Kernel(float* aPanel, nint rs, nint cs, float* bPanel, float* cTile, nint ldc, bool load)
        {
            switch (Level)
            {
                case SimdLevel.Vector512: GemmKernel512.Kernel12x32(Kc, aPanel, rs, cs, bPanel, cTile, ldc, load); break;
                case SimdLevel.Vector256: GemmKernel256.Kernel6x16(Kc, aPanel, rs, cs, bPanel, cTile, ldc, load); break;
                default: GemmScalar.Kernel4x4(Kc, aPanel, rs, cs, bPanel, cTile, ldc, load); break;
            }
        }
    }
}
