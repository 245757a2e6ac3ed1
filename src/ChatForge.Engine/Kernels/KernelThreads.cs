using System.Runtime.ExceptionServices;

namespace ChatForge.Engine.Kernels;

/// <summary>How many threads kernels split work over. Defaults to every core.</summary>
public static class KernelThreads
{
    static int _count = Environment.ProcessorCount;
    [ThreadStatic] static bool t_inKernel;

    public static int Count
    {
        get => _count;
        set => _count = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Thread count must be at least 1.");
    }

    /// <summary>
    /// Runs body(i) for i in [from, to) over at most Count threads; inline when there is one item, one thread, or
    /// when called from inside another kernel's body. The caller's thread takes part. Work goes to
    /// <see cref="KernelPool"/>'s persistent workers; if another thread is using the pool at that moment (tests, a server
    /// training and decoding at once) it goes to Parallel.For instead.
    /// </summary>
    public static void For(int fromInclusive, int toExclusive, Action<int> body)
    {
        int n = toExclusive - fromInclusive;
        if (n <= 0) return;
        if (n == 1 || _count == 1 || t_inKernel)
        {
            for (int i = fromInclusive; i < toExclusive; i++) body(i);
            return;
        }
        t_inKernel = true;
        try
        {
            if (!KernelPool.TryRun(fromInclusive, toExclusive, Math.Min(_count, n), body))
                Parallel.For(fromInclusive, toExclusive, new ParallelOptions { MaxDegreeOfParallelism = _count }, i =>
                {
                    // .NET pool threads run other work afterwards: mark them only while they run this body.
                    bool outer = t_inKernel;
                    t_inKernel = true;
                    try { body(i); }
                    finally { t_inKernel = outer; }
                });
        }
        finally { t_inKernel = false; }
    }

    /// <summary>Marks a pool worker: kernels it runs call nested For inline.</summary>
    internal static void EnterWorker() => t_inKernel = true;
}

/// <summary>
/// Worker threads that live for the process and spin briefly between jobs. Decode calls a parallel kernel some
/// forty times per token, microseconds apart; Parallel.For hands each call to the .NET thread pool, whose sleeping
/// workers take tens of microseconds to wake (measured 26 µs for an empty two-item For on 2 cores), which was a
/// large share of a small model's step. A worker here spins for <see cref="SpinMicroseconds"/> after its last job
/// and only then blocks, so back-to-back kernels find it awake, while an idle process stops burning the core.
/// </summary>
internal static class KernelPool
{
    const double SpinMicroseconds = 200;

    sealed class Job(int from, int to, int helpers, Action<int> body)
    {
        public readonly Action<int> Body = body;
        public readonly int To = to;
        public int Next = from;              // next index to claim
        public int Remaining = to - from;    // indices not yet finished
        public int Seats = helpers;          // workers still allowed to join
        public ExceptionDispatchInfo? Error;

        /// <summary>Claims and runs indices until none are left.</summary>
        public void Work()
        {
            int i;
            while ((i = Interlocked.Increment(ref Next) - 1) < To)
            {
                try { Body(i); }
                catch (Exception e) { Interlocked.CompareExchange(ref Error, ExceptionDispatchInfo.Capture(e), null); }
                Interlocked.Decrement(ref Remaining);
            }
        }
    }

    static readonly object Grow = new();
    static readonly SemaphoreSlim Wake = new(0);
    static Job? _job;
    static int _busy, _workers, _sleepers;

    /// <summary>Runs the job on the caller plus up to threads − 1 workers; false when another caller holds the pool.</summary>
    public static bool TryRun(int from, int to, int threads, Action<int> body)
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0) return false;
        try
        {
            EnsureWorkers(threads - 1);
            var job = new Job(from, to, threads - 1, body);
            Volatile.Write(ref _job, job);
            // Dekker pairing with the worker's sleep: publish, then read the sleepers it announced (both full fences).
            int sleeping = Interlocked.CompareExchange(ref _sleepers, 0, 0);
            if (sleeping > 0) Wake.Release(Math.Min(sleeping, threads - 1));
            job.Work();
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Remaining) > 0) spin.SpinOnce(sleep1Threshold: -1);
            Volatile.Write(ref _job, null); // let the body's closure (and the arrays it holds) be collected
            job.Error?.Throw();
            return true;
        }
        finally { Volatile.Write(ref _busy, 0); }
    }

    static void EnsureWorkers(int wanted)
    {
        if (Volatile.Read(ref _workers) >= wanted) return;
        lock (Grow)
            while (_workers < wanted)
            {
                new Thread(WorkerLoop) { IsBackground = true, Name = $"ChatForge kernel {_workers + 1}" }.Start();
                _workers++;
            }
    }

    static void WorkerLoop()
    {
        KernelThreads.EnterWorker();
        Job? seen = null;
        long spinTicks = (long)(SpinMicroseconds * System.Diagnostics.Stopwatch.Frequency / 1_000_000);
        while (true)
        {
            long idleSince = System.Diagnostics.Stopwatch.GetTimestamp();
            Job? job;
            while ((job = Volatile.Read(ref _job)) == seen)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() - idleSince < spinTicks) { Thread.SpinWait(20); continue; }
                Interlocked.Increment(ref _sleepers);
                if (Volatile.Read(ref _job) == seen) Wake.Wait();
                Interlocked.Decrement(ref _sleepers);
                idleSince = System.Diagnostics.Stopwatch.GetTimestamp();
            }
            seen = job;
            if (job is not null && Interlocked.Decrement(ref job.Seats) >= 0) job.Work();
        }
    }
}
