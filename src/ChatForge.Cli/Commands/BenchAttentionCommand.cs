using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using ChatForge.Engine.Kernels;

namespace ChatForge.Cli.Commands;

/// <summary>`chatforge bench attention`: flash attention (training forward/backward, cached prefill, batched decode) and the chunked LM-head loss, as JSON.</summary>
public sealed class BenchAttentionCommand : ICliCommand
{
    public string? Group => "bench";

    public Command Build()
    {
        var batch = new Option<int>("--batch") { Description = "Sequences per training step.", DefaultValueFactory = _ => 4 };
        var t = new Option<int>("--t") { Description = "Sequence length.", DefaultValueFactory = _ => 1024 };
        var heads = new Option<int>("--heads") { Description = "Query heads.", DefaultValueFactory = _ => 12 };
        var kvHeads = new Option<int>("--kv-heads") { Description = "Key/value heads.", DefaultValueFactory = _ => 12 };
        var headDim = new Option<int>("--head-dim") { Description = "Per-head width.", DefaultValueFactory = _ => 64 };
        var vocab = new Option<int>("--vocab") { Description = "LM-head vocabulary.", DefaultValueFactory = _ => 50304 };
        var dModel = new Option<int>("--d") { Description = "LM-head input width.", DefaultValueFactory = _ => 768 };
        var lmRows = new Option<int>("--lm-rows") { Description = "Rows for the LM-head loss.", DefaultValueFactory = _ => 1024 };
        var parts = new Option<string>("--parts") { Description = "Comma-separated subset of train,decode,lmhead.", DefaultValueFactory = _ => "train,decode,lmhead" };
        var threads = new Option<int>("--threads") { Description = "Kernel threads (0 = all cores).", DefaultValueFactory = _ => 0 };
        var cpuTime = new Option<bool>("--cpu-time") { Description = "Time with process CPU time instead of wall-clock (for loaded machines; use with --threads 1)." };
        var iterations = new Option<int>("--iterations") { Description = "Timed repetitions (best is reported).", DefaultValueFactory = _ => 3 };
        var command = new Command("attention", "Flash attention and LM-head loss throughput (JSON).");
        foreach (var o in new Option[] { batch, t, heads, kvHeads, headDim, vocab, dModel, lmRows, parts, threads, cpuTime, iterations }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            int b = parse.GetValue(batch), T = parse.GetValue(t), hq = parse.GetValue(heads), hkv = parse.GetValue(kvHeads), hd = parse.GetValue(headDim);
            int iters = Math.Max(1, parse.GetValue(iterations));
            UseCpuTime = parse.GetValue(cpuTime);
            if (parse.GetValue(threads) > 0) KernelThreads.Count = parse.GetValue(threads);
            var selected = parse.GetValue(parts)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var result = new Dictionary<string, object>
            {
                ["simd"] = Simd.Level.ToString(), ["clock"] = UseCpuTime ? "process_cpu" : "wall", ["threads"] = KernelThreads.Count,
                ["batch"] = b, ["t"] = T, ["heads"] = hq, ["kv_heads"] = hkv, ["head_dim"] = hd,
            };
            if (selected.Contains("train")) Attend(result, b, T, hq, hkv, hd, iters);
            if (selected.Contains("decode")) Decode(result, T, hq, hkv, hd, iters);
            if (selected.Contains("lmhead")) LmHead(result, parse.GetValue(lmRows), parse.GetValue(dModel), parse.GetValue(vocab), iters);
            result["process_cpu_s"] = Math.Round(Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, 2);
            Console.WriteLine(JsonSerializer.Serialize(result));
            return 0;
        });
        return command;
    }

    static void Attend(Dictionary<string, object> result, int b, int T, int hq, int hkv, int hd, int iters)
    {
        int qkvDim = (hq + 2 * hkv) * hd;
        var qkv = RandomArray(b * T * qkvDim, 1);
        var output = new float[b * T * hq * hd];
        var lse = new float[b * hq * T];
        var dOutput = RandomArray(output.Length, 2);
        var dQkv = new float[qkv.Length];
        // Causal: half of the T×T scores; forward = 2 matmuls, backward = 5 (scores recomputed).
        double matmulFlops = (double)b * hq * T * (T + 1) / 2 * hd * 2;
        double fwd = Best(iters, () => Attention.Forward(qkv, output, lse, b, T, hq, hkv, hd));
        double bwd = Best(iters, () => Attention.Backward(dOutput, qkv, output, lse, dQkv, b, T, hq, hkv, hd));
        result["forward_ms"] = Math.Round(fwd * 1e3, 2);
        result["forward_gflops"] = Math.Round(2 * matmulFlops / fwd / 1e9, 1);
        result["backward_ms"] = Math.Round(bwd * 1e3, 2);
        result["backward_gflops"] = Math.Round(5 * matmulFlops / bwd / 1e9, 1);
    }

    static void Decode(Dictionary<string, object> result, int T, int hq, int hkv, int hd, int iters)
    {
        int kvDim = hkv * hd, qDim = hq * hd, slots = 8;
        var kCache = RandomArray(slots * T * kvDim, 3);
        var vCache = RandomArray(slots * T * kvDim, 4);
        var q = RandomArray(T * qDim, 5);
        var output = new float[T * qDim];
        var prefillSlots = new int[T];
        var prefillPositions = Enumerable.Range(0, T).ToArray();
        double prefill = Best(iters, () => Attention.CachedForward(q, prefillSlots, prefillPositions, kCache, vCache, T, output, hq, hkv, hd));
        result["cached_prefill_ms"] = Math.Round(prefill * 1e3, 2);
        var kBf16 = new ushort[kCache.Length];
        var vBf16 = new ushort[vCache.Length];
        Bf16.FromFloat(kCache, kBf16);
        Bf16.FromFloat(vCache, vBf16);
        foreach (int batch in new[] { 1, 8 })
        {
            var decodeSlots = Enumerable.Range(0, batch).ToArray();
            var positions = Enumerable.Repeat(T - 1, batch).ToArray();
            var qRows = q.AsMemory(0, batch * qDim);
            var outRows = output.AsMemory(0, batch * qDim);
            // A float cache, then a bf16 one (the inference default, widened as it is read). Each decode step reads every
            // cached K and V of every sequence once.
            foreach (var (name, bytes, step) in new (string, int, Action)[]
            {
                ("", sizeof(float), () => Attention.CachedForward(qRows.Span, decodeSlots, positions, kCache, vCache, T, outRows.Span, hq, hkv, hd)),
                ("bf16_", sizeof(ushort), () => Attention.CachedForward(qRows.Span, decodeSlots, positions, (ReadOnlySpan<ushort>)kBf16, vBf16, T, outRows.Span, hq, hkv, hd)),
            })
            {
                const int reps = 50;
                double seconds = Best(iters, () => { for (int i = 0; i < reps; i++) step(); }) / reps;
                result[$"decode_{name}b{batch}_us"] = Math.Round(seconds * 1e6, 1);
                result[$"decode_{name}b{batch}_cache_gbps"] = Math.Round(2.0 * batch * T * kvDim * bytes / seconds / 1e9, 1);
            }
        }
    }

    static void LmHead(Dictionary<string, object> result, int n, int d, int vocab, int iters)
    {
        var x = RandomArray(n * d, 6);
        var w = RandomArray(vocab * d, 7, 0.05f);
        var targets = Enumerable.Range(0, n).Select(i => i * 7919 % vocab).ToArray();
        var weights = Enumerable.Repeat(1f / n, n).ToArray();
        var logProbs = new float[n];
        var dx = new float[n * d];
        var dW = new float[vocab * d];
        double seconds = Best(iters, () => LmHeadLoss.ForwardBackward(x, w, targets, weights, logProbs, dx, dW, n, d, vocab));
        result["lm_head_rows"] = n;
        result["lm_head_ms"] = Math.Round(seconds * 1e3, 1);
        result["lm_head_gflops"] = Math.Round(4.0 * 2 * n * d * vocab / seconds / 1e9, 1); // 2 logits passes + dx + dW
    }

    /// <summary>
    /// Best time of <paramref name="iters"/> runs after a warm-up: wall-clock, or with
    /// --cpu-time the process CPU time, which on a loaded machine measures the kernel rather than the scheduler
    /// (meaningful with --threads 1).
    /// </summary>
    static double Best(int iters, Action action)
    {
        for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 0.5;) action(); // let every kernel reach its final JIT tier
        double best = double.MaxValue;
        var process = Process.GetCurrentProcess();
        for (int i = 0; i < iters; i++)
        {
            process.Refresh();
            var cpu = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            action();
            process.Refresh();
            best = Math.Min(best, UseCpuTime ? (process.TotalProcessorTime - cpu).TotalSeconds : sw.Elapsed.TotalSeconds);
        }
        return best;
    }

    static bool UseCpuTime;

    static float[] RandomArray(int n, int seed, float amplitude = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * amplitude;
        return a;
    }
}
