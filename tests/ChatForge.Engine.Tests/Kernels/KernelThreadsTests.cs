using ChatForge.Engine.Kernels;

namespace ChatForge.Engine.Tests.Kernels;

/// <summary>The persistent kernel pool: every index runs once, errors reach the caller, nesting and concurrent callers are safe.</summary>
[Collection("Simd")]
public class KernelThreadsTests
{
    [Theory]
    [InlineData(2, 2)]
    [InlineData(2, 1000)]
    [InlineData(3, 7)]
    [InlineData(4, 100)]
    public void Every_index_runs_exactly_once(int threads, int items) => KernelCheck.WithThreads(threads, () =>
    {
        for (int round = 0; round < 200; round++)
        {
            var hits = new int[items + 5];
            KernelThreads.For(5, items + 5, i => Interlocked.Increment(ref hits[i]));
            Assert.All(hits[..5], h => Assert.Equal(0, h));
            Assert.All(hits[5..], h => Assert.Equal(1, h));
        }
    });

    [Fact]
    public void Uses_more_than_one_thread_and_at_most_count() => KernelCheck.WithThreads(2, () =>
    {
        AssertTwoItemsRunOnTwoThreads();

        var many = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        KernelThreads.For(0, 64, _ => { many[Environment.CurrentManagedThreadId] = true; Thread.SpinWait(2000); });
        Assert.InRange(many.Count, 1, 2);
    });

    [Fact]
    public void An_exception_in_the_body_reaches_the_caller_and_the_pool_keeps_working() => KernelCheck.WithThreads(2, () =>
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            KernelThreads.For(0, 50, i => { if (i == 37) throw new InvalidOperationException("item 37"); }));
        Assert.Equal("item 37", error.Message);
        int sum = 0;
        KernelThreads.For(0, 100, i => Interlocked.Add(ref sum, i));
        Assert.Equal(4950, sum);
    });

    [Fact]
    public void Nested_calls_run_inline() => KernelCheck.WithThreads(2, () =>
    {
        var hits = new int[8 * 8];
        KernelThreads.For(0, 8, i => KernelThreads.For(0, 8, j => Interlocked.Increment(ref hits[i * 8 + j])));
        Assert.All(hits, h => Assert.Equal(1, h));
    });

    [Fact]
    public void Concurrent_callers_from_several_threads_each_get_all_their_work_done() => KernelCheck.WithThreads(2, () =>
    {
        // One caller holds the pool; the others fall back to Parallel.For. None may lose or repeat an index.
        var tasks = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int round = 0; round < 300; round++)
            {
                var hits = new int[33];
                KernelThreads.For(0, 33, i => Interlocked.Increment(ref hits[i]));
                if (hits.Any(h => h != 1)) return false;
            }
            return true;
        })).ToArray();
        Assert.True(Task.WaitAll(tasks, TimeSpan.FromSeconds(60)), "callers did not finish");
        Assert.All(tasks, t => Assert.True(t.Result));
    });

    [Fact]
    public void Pool_threads_used_by_the_fallback_are_not_left_marked_as_inside_a_kernel() => KernelCheck.WithThreads(2, () =>
    {
        // While one caller holds the kernel pool, others go through Parallel.For on .NET pool threads. Those threads
        // must come out unmarked, or every later parallel kernel they run would silently run on one thread.
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), io); // no waiting for thread injection on a 2-core machine
        using var holding = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = Task.Run(() => KernelThreads.For(0, 2, i => { if (i == 0) { holding.Set(); release.Wait(); } }));
        Assert.True(holding.Wait(5000));
        var fallbackThreads = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        Task.Run(() => KernelThreads.For(0, 64, _ => { fallbackThreads[Environment.CurrentManagedThreadId] = true; Thread.Sleep(1); })).Wait();
        release.Set();
        holder.Wait();
        Assert.True(fallbackThreads.Count >= 2, "the fallback should have run on .NET pool threads too");
        // Every .NET pool thread now runs a parallel For of its own: it must use two threads, not one.
        var results = Enumerable.Range(0, 16).Select(_ => Task.Run(() =>
        {
            var threads = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
            int inside = 0;
            KernelThreads.For(0, 2, _ =>
            {
                threads[Environment.CurrentManagedThreadId] = true;
                Interlocked.Increment(ref inside);
                SpinWait.SpinUntil(() => Volatile.Read(ref inside) >= 2, 2000);
            });
            return threads.Count;
        })).Select(t => t.Result).ToList();
        Assert.All(results, count => Assert.Equal(2, count));
    });

    [Fact]
    public void Workers_asleep_after_idling_wake_for_the_next_job() => KernelCheck.WithThreads(2, () =>
    {
        KernelThreads.For(0, 4, _ => { });
        Thread.Sleep(50); // well past the spin period: the worker is blocked now
        AssertTwoItemsRunOnTwoThreads();
    });

    /// <summary>Each item waits until two threads are inside (bounded by a timeout): proves the work is shared.</summary>
    static void AssertTwoItemsRunOnTwoThreads()
    {
        var threads = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        int inside = 0;
        KernelThreads.For(0, 2, _ =>
        {
            threads[Environment.CurrentManagedThreadId] = true;
            Interlocked.Increment(ref inside);
            SpinWait.SpinUntil(() => Volatile.Read(ref inside) >= 2, 5000);
        });
        Assert.Equal(2, threads.Count);
    }
}
