using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// GEMV-like path for few rows (decode: m = 1..8). Nothing is packed: with so few rows every weight is used m times,
/// so the cost is streaming B once, and packing it would double that. Two loop shapes, by how B is stored:
/// transB (a Linear weight [n×k]) → dot products along contiguous weight rows, 4 rows at a time;
/// plain B [k×n] → rows of B scaled and added into a strip of accumulators (axpy form).
/// The columns of C are split over the threads.
/// </summary>
internal static unsafe class GemmSmall
{
    /// <summary>Below this many multiply-adds a second thread costs more to wake than it saves.</summary>
    const long ParallelThreshold = 1 << 17;

    [ThreadStatic] static float[]? t_rows;

    public static void MatMul(float* a, float* b, float* c, int m, int n, int k, bool transA, bool transB, bool accumulate, SimdLevel level)
    {
        float* x = a;
        if (transA)
        {
            // op(A) rows are strided in a [k×m] A: gather them once (m·k floats, tiny next to B).
            x = RowBuffer(m * k);
            for (int i = 0; i < m; i++)
                for (int p = 0; p < k; p++) x[i * k + p] = a[(nint)p * m + i];
        }
        var job = new Job { X = x, B = b, C = c, M = m, N = n, K = k, Accumulate = accumulate, Level = level, TransB = transB };
        Split(job, (long)m * n * k);
    }

    static float* RowBuffer(int length)
    {
        if (t_rows is null || t_rows.Length < length + 16) t_rows = GC.AllocateUninitializedArray<float>(length + 16, pinned: true);
        fixed (float* p = t_rows) return (float*)(((nint)p + 63) & ~(nint)63);
    }

    static void Split(Job job, long work)
    {
        int threads = work >= ParallelThreshold ? Math.Min(KernelThreads.Count, Math.Max(1, job.N / 64)) : 1;
        // Column ranges in multiples of 64 so threads never write the same cache line of C.
        job.ColumnsPerPart = (job.N + threads * 64 - 1) / (threads * 64) * 64;
        int parts = (job.N + job.ColumnsPerPart - 1) / job.ColumnsPerPart;
        KernelThreads.For(0, parts, job.Run);
    }

    sealed class Job
    {
        public float* X, B, C;
        public int M, N, K, ColumnsPerPart;
        public bool Accumulate, TransB;
        public SimdLevel Level;

        public void Run(int part)
        {
            int j0 = part * ColumnsPerPart, j1 = Math.Min(N, j0 + ColumnsPerPart);
            if (TransB) DotRows(X, B, C, M, N, K, j0, j1, Accumulate, Level);
            else for (int i = 0; i < M; i++) AxpyRow(X + (nint)i * K, B, C + (nint)i * N, N, K, j0, j1, Accumulate, Level);
        }
    }

    /// <summary>C[i, j] (+)= x_i · B_j for j in [j0, j1), B [n×k]: four weight rows at a time, reused from L1 for every x row.</summary>
    static void DotRows(float* x, float* b, float* c, int m, int n, int k, int j0, int j1, bool accumulate, SimdLevel level)
    {
        float* sums = stackalloc float[4];
        for (int j = j0; j < j1; j += 4)
        {
            int rows = Math.Min(4, j1 - j);
            float* w0 = b + (nint)j * k;
            // Past the last weight row, point at the first one again: the extra sums are computed and dropped.
            float* w1 = rows > 1 ? w0 + k : w0, w2 = rows > 2 ? w0 + 2 * k : w0, w3 = rows > 3 ? w0 + 3 * k : w0;
            for (int i = 0; i < m; i++)
            {
                float* xi = x + (nint)i * k;
                switch (level)
                {
                    case SimdLevel.Vector512: Dot4x512(xi, w0, w1, w2, w3, k, sums); break;
                    case SimdLevel.Vector256: Dot4x256(xi, w0, w1, w2, w3, k, sums); break;
                    default: Dot4Scalar(xi, w0, w1, w2, w3, k, sums); break;
                }
                float* ci = c + (nint)i * n + j;
                for (int r = 0; r < rows; r++) ci[r] = accumulate ? ci[r] + sums[r] : sums[r];
            }
        }
    }

    static void Dot4x512(float* x, float* w0, float* w1, float* w2, float* w3, int k, float* sums)
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int p = 0;
        for (; p <= k - 16; p += 16)
        {
            var xv = Vector512.Load(x + p);
            s0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w0 + p), s0);
            s1 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w1 + p), s1);
            s2 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w2 + p), s2);
            s3 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w3 + p), s3);
        }
        sums[0] = Vector512.Sum(s0); sums[1] = Vector512.Sum(s1); sums[2] = Vector512.Sum(s2); sums[3] = Vector512.Sum(s3);
        for (; p < k; p++)
        {
            sums[0] += x[p] * w0[p]; sums[1] += x[p] * w1[p]; sums[2] += x[p] * w2[p]; sums[3] += x[p] * w3[p];
        }
    }

    static void Dot4x256(float* x, float* w0, float* w1, float* w2, float* w3, int k, float* sums)
    {
        // Two accumulators per row: eight independent FMA chains hide the FMA latency.
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
        int p = 0;
        for (; p <= k - 16; p += 16)
        {
            var xv = Vector256.Load(x + p);
            var xu = Vector256.Load(x + p + 8);
            s0 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w0 + p), s0);
            s1 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w1 + p), s1);
            s2 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w2 + p), s2);
            s3 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w3 + p), s3);
            t0 = Vector256.FusedMultiplyAdd(xu, Vector256.Load(w0 + p + 8), t0);
            t1 = Vector256.FusedMultiplyAdd(xu, Vector256.Load(w1 + p + 8), t1);
            t2 = Vector256.FusedMultiplyAdd(xu, Vector256.Load(w2 + p + 8), t2);
            t3 = Vector256.FusedMultiplyAdd(xu, Vector256.Load(w3 + p + 8), t3);
        }
        for (; p <= k - 8; p += 8)
        {
            var xv = Vector256.Load(x + p);
            s0 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w0 + p), s0);
            s1 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w1 + p), s1);
            s2 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w2 + p), s2);
            s3 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(w3 + p), s3);
        }
        sums[0] = Vector256.Sum(s0 + t0); sums[1] = Vector256.Sum(s1 + t1); sums[2] = Vector256.Sum(s2 + t2); sums[3] = Vector256.Sum(s3 + t3);
        for (; p < k; p++)
        {
            sums[0] += x[p] * w0[p]; sums[1] += x[p] * w1[p]; sums[2] += x[p] * w2[p]; sums[3] += x[p] * w3[p];
        }
    }

    static void Dot4Scalar(float* x, float* w0, float* w1, float* w2, float* w3, int k, float* sums)
    {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int p = 0; p < k; p++)
        {
            float xv = x[p];
            s0 += xv * w0[p]; s1 += xv * w1[p]; s2 += xv * w2[p]; s3 += xv * w3[p];
        }
        sums[0] = s0; sums[1] = s1; sums[2] = s2; sums[3] = s3;
    }

    /// <summary>c[j] (+)= Σ_p x[p]·B[p, j] for j in [j0, j1), B [k×n]: a strip of eight vectors of C stays in registers over all of k.</summary>
    static void AxpyRow(float* x, float* b, float* c, int n, int k, int j0, int j1, bool accumulate, SimdLevel level)
    {
        int j = j0;
        if (level == SimdLevel.Vector512)
        {
            for (; j <= j1 - 128; j += 128) Axpy8x512(x, b + j, c + j, n, k, accumulate);
            for (; j <= j1 - 16; j += 16)
            {
                Vector512<float> s = default;
                for (int p = 0; p < k; p++) s = Vector512.FusedMultiplyAdd(Vector512.Create(x[p]), Vector512.Load(b + (nint)p * n + j), s);
                if (accumulate) s += Vector512.Load(c + j);
                s.Store(c + j);
            }
        }
        else if (level == SimdLevel.Vector256)
        {
            for (; j <= j1 - 64; j += 64) Axpy8x256(x, b + j, c + j, n, k, accumulate);
            for (; j <= j1 - 8; j += 8)
            {
                Vector256<float> s = default;
                for (int p = 0; p < k; p++) s = Vector256.FusedMultiplyAdd(Vector256.Create(x[p]), Vector256.Load(b + (nint)p * n + j), s);
                if (accumulate) s += Vector256.Load(c + j);
                s.Store(c + j);
            }
        }
        for (; j < j1; j++)
        {
            float s = 0;
            for (int p = 0; p < k; p++) s += x[p] * b[(nint)p * n + j];
            c[j] = accumulate ? c[j] + s : s;
        }
    }

    static void Axpy8x512(float* x, float* b, float* c, int n, int k, bool accumulate)
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        for (int p = 0; p < k; p++)
        {
            var xv = Vector512.Create(x[p]);
            float* row = b + (nint)p * n;
            s0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(row), s0);
            s1 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(row + 16), s1);
            s2 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(row + 32), s2);
            s3 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(row + 48), s3);
            s4 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(row + 64), s4);
            s5 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(row + 80), s5);
            s6 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(row + 96), s6);
            s7 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(row + 112), s7);
        }
        if (accumulate)
        {
            s0 += Vector512.Load(c); s1 += Vector512.Load(c + 16); s2 += Vector512.Load(c + 32); s3 += Vector512.Load(c + 48);
            s4 += Vector512.Load(c + 64); s5 += Vector512.Load(c + 80); s6 += Vector512.Load(c + 96); s7 += Vector512.Load(c + 112);
        }
        s0.Store(c); s1.Store(c + 16); s2.Store(c + 32); s3.Store(c + 48);
        s4.Store(c + 64); s5.Store(c + 80); s6.Store(c + 96); s7.Store(c + 112);
    }

    static void Axpy8x256(float* x, float* b, float* c, int n, int k, bool accumulate)
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        for (int p = 0; p < k; p++)
        {
            var xv = Vector256.Create(x[p]);
            float* row = b + (nint)p * n;
            s0 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(row), s0);
            s1 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(row + 8), s1);
            s2 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(row + 16), s2);
            s3 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(row + 24), s3);
            s4 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(row + 32), s4);
            s5 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(row + 40), s5);
            s6 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(row + 48), s6);
            s7 = Vector256.FusedMultiplyAdd(xv, Vector256.Load(row + 56), s7);
        }
        if (accumulate)
        {
            s0 += Vector256.Load(c); s1 += Vector256.Load(c + 8); s2 += Vector256.Load(c + 16); s3 += Vector256.Load(c + 24);
            s4 += Vector256.Load(c + 32); s5 += Vector256.Load(c + 40); s6 += Vector256.Load(c + 48); s7 += Vector256.Load(c + 56);
        }
        s0.Store(c); s1.Store(c + 8); s2.Store(c + 16); s3.Store(c + 24);
        s4.Store(c + 32); s5.Store(c + 40); s6.Store(c + 48); s7.Store(c + 56);
    }
}
