using ChatForge.Cli.Bench;
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatForge.Engine.Kernels;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `chatforge bench gemm`: GFLOPS of Gemm.MatMul on the engine's typical shapes (training rows × d_model × 3d / 4d / d,
/// the LM head, and a decode GEMV), decode bandwidth of MatMulBf16, and with --reference the same shapes through
/// numpy/OpenBLAS in the same run. Prints one JSON object.
/// </summary>
public sealed class BenchGemmCommand : ICliCommand
{
    public string? Group => "bench";

    /// <summary>(name, m, n, k) for C[m×n] = A[m×k]·B[k×n]; the same list as bench/reference/gemm_numpy.py.</summary>
    static readonly (string Name, int M, int N, int K)[] Shapes =
    [
        ("4096x256@256x768", 4096, 768, 256),
        ("4096x256@256x1024", 4096, 1024, 256),
        ("4096x1024@1024x256", 4096, 256, 1024),
        ("4096x256@256x8192", 4096, 8192, 256),
        ("1x512@512x512", 1, 512, 512),
    ];

    public Command Build()
    {
        var threads = new Option<int>("--threads") { Description = "Kernel threads (KernelThreads.Count) and OpenBLAS threads.", DefaultValueFactory = _ => 2 };
        var reps = new Option<int>("--reps") { Description = "Timed repetitions per shape after the warm-up; best and median are reported.", DefaultValueFactory = _ => 10 };
        var reference = new Option<bool>("--reference") { Description = "Also run the numpy reference script and report our/reference ratios." };
        var python = new Option<string>("--python") { Description = "Python interpreter with numpy for --reference.", DefaultValueFactory = _ => "/usr/bin/python3" };
        var script = new Option<string>("--script") { Description = "Reference script path.", DefaultValueFactory = _ => "bench/reference/gemm_numpy.py" };
        var rounds = new Option<int>("--rounds") { Description = "With --reference: alternate ours and the reference this many times and report the median of the paired ratios.", DefaultValueFactory = _ => 3 };
        var command = new Command("gemm", "GEMM GFLOPS on the engine's shapes (optionally against numpy/OpenBLAS); prints JSON.");
        foreach (var option in new Option[] { threads, reps, reference, python, script, rounds }) command.Options.Add(option);
        command.SetAction(parseResult =>
        {
            int threadCount = parseResult.GetValue(threads), repCount = parseResult.GetValue(reps), roundCount = parseResult.GetValue(rounds);
            if (threadCount < 1 || repCount < 1 || roundCount < 1)
            {
                Console.Error.WriteLine("bench gemm: --threads, --reps and --rounds must be at least 1.");
                return 2;
            }
            var result = Run(threadCount, repCount);
            if (parseResult.GetValue(reference))
            {
                string scriptPath = parseResult.GetValue(script)!;
                if (!File.Exists(scriptPath))
                {
                    Console.Error.WriteLine($"bench gemm: reference script '{Path.GetFullPath(scriptPath)}' not found (run from the repository root or pass --script).");
                    return 2;
                }
                AddReference(result, parseResult.GetValue(python)!, scriptPath, threadCount, repCount, roundCount);
            }
            Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return command;
    }

    static JsonObject Run(int threadCount, int repCount)
    {
        int previousThreads = KernelThreads.Count;
        KernelThreads.Count = threadCount;
        try
        {
            return new JsonObject
            {
                ["benchmark"] = "gemm",
                ["simd"] = Simd.Level.ToString(),
                ["threads"] = threadCount,
                ["reps"] = repCount,
                ["processors"] = Environment.ProcessorCount,
                ["shapes"] = MeasureShapes(repCount),
                ["decode"] = Decode(repCount),
            };
        }
        finally
        {
            KernelThreads.Count = previousThreads;
        }
    }

    static JsonArray MeasureShapes(int repCount)
    {
        var shapes = new JsonArray();
        foreach (var (name, m, n, k) in Shapes)
        {
            var a = Random(m * k, 1);
            var b = Random(k * n, 2);
            var c = new float[m * n];
            double flops = 2.0 * m * n * k;
            var seconds = Time(() => Gemm.MatMul(a, b, c, m, n, k), flops, repCount, out var cpuSeconds);
            shapes.Add(new JsonObject
            {
                ["name"] = name, ["m"] = m, ["n"] = n, ["k"] = k,
                ["best_gflops"] = Round(flops / seconds.Min() / 1e9),
                ["median_gflops"] = Round(flops / BenchStats.Median(seconds) / 1e9),
                ["gflops_per_cpu_second"] = Round(flops / cpuSeconds.Min() / 1e9),
            });
        }
        return shapes;
    }

    /// <summary>Batch-1 decode through a weight bigger than L3 (64 MiB bf16): bytes of weight streamed per second, next to a plain read of as many bytes.</summary>
    static JsonObject Decode(int repCount)
    {
        const int n = 16384, k = 2048;
        var x = Random(k, 3);
        var w = Bf16Matrix.FromFloat(Random(n * k, 4), n, k);
        var y = new float[n];
        double bytes = (double)n * k * sizeof(ushort);
        var bf16Seconds = Time(() => Gemm.MatMulBf16(x, w, y, 1), 2.0 * n * k, repCount);
        // Batch-8 decode: the same weight against 8 rows (compute-bound: each widened weight feeds 8 FMAs).
        var x8 = Random(8 * k, 6);
        var y8 = new float[8 * n];
        var rows8Seconds = Time(() => Gemm.MatMulBf16(x8, w, y8, 8), 16.0 * n * k, repCount);
        var wFloat = Random(n * k, 5);
        var f32Seconds = Time(() => Gemm.MatMul(x, wFloat, y, 1, n, k, transB: true), 2.0 * n * k, repCount);
        // Reference bandwidth: sum the same float weight (2× the bf16 bytes) over the kernel threads.
        var readSeconds = Time(() => s_sink += ParallelSum(wFloat), n * (double)k, repCount);
        return new JsonObject
        {
            ["shape"] = $"1x{k}@{k}x{n} (W [{n}x{k}] transposed)",
            ["bf16_weight_gbps"] = Round(bytes / bf16Seconds.Min() / 1e9),
            ["f32_weight_gbps"] = Round(2 * bytes / f32Seconds.Min() / 1e9),
            ["read_gbps"] = Round(2 * bytes / readSeconds.Min() / 1e9),
            ["bf16_ms"] = Round(bf16Seconds.Min() * 1e3, 3),
            ["bf16_rows8_gflops"] = Round(16.0 * n * k / rows8Seconds.Min() / 1e9),
            ["bf16_rows8_ms"] = Round(rows8Seconds.Min() * 1e3, 3),
            ["f32_ms"] = Round(f32Seconds.Min() * 1e3, 3),
        };
    }

    /// <summary>Keeps the read benchmark's result observable so the sum is not optimised away.</summary>
    static double s_sink;

    static double ParallelSum(float[] values)
    {
        int parts = KernelThreads.Count;
        var sums = new double[parts * 16];
        int per = (values.Length + parts - 1) / parts;
        KernelThreads.For(0, parts, part =>
        {
            int from = part * per, to = Math.Min(values.Length, from + per);
            sums[part * 16] = System.Numerics.Tensors.TensorPrimitives.Sum(values.AsSpan(from, to - from));
        });
        return sums.Sum();
    }

    /// <summary>Seconds per call for each repetition, after warm-up; tiny calls are batched so one sample lasts ≳ 20 ms.</summary>
    static double[] Time(Action call, double flopsPerCall, int repCount) => Time(call, flopsPerCall, repCount, out _);

    /// <summary>As above, also giving the process CPU seconds per call: on a shared machine wall time includes time
    /// the scheduler gave to others, CPU time does not (but it does include any spin-waiting of idle workers).</summary>
    static double[] Time(Action call, double flopsPerCall, int repCount, out double[] cpuSeconds)
    {
        var process = Process.GetCurrentProcess();
        int inner = (int)Math.Max(1, 2e8 / flopsPerCall);
        for (int i = 0; i < 3; i++) call();
        var seconds = new double[repCount];
        cpuSeconds = new double[repCount];
        for (int r = 0; r < repCount; r++)
        {
            process.Refresh();
            var cpuStart = process.TotalProcessorTime;
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < inner; i++) call();
            seconds[r] = Stopwatch.GetElapsedTime(start).TotalSeconds / inner;
            process.Refresh();
            cpuSeconds[r] = (process.TotalProcessorTime - cpuStart).TotalSeconds / inner;
        }
        return seconds;
    }

    /// <summary>
    /// Runs the reference (numpy as the environment has it, with OpenBLAS's core-type hints unset, and on AVX-512 CPUs with
    /// OpenBLAS told to use its AVX-512 kernels, <see cref="ReferenceScript.Avx512CoreType"/>) after our first
    /// measurement, then alternates ours and the reference for the remaining rounds: this machine's speed drifts by
    /// ±15 % over a minute, so each round's ratio pairs measurements taken side by side, and the median of the paired
    /// ratios is the figure reported.
    /// </summary>
    static void AddReference(JsonObject result, string python, string scriptPath, int threadCount, int repCount, int roundCount)
    {
        var roundsJson = new JsonArray();
        var ratios = Shapes.ToDictionary(s => s.Name, _ => new List<double>());
        JsonNode? asIs = null, unset = null, avx512 = null;
        for (int round = 0; round < roundCount; round++)
        {
            JsonArray ours;
            if (round == 0) ours = result["shapes"]!.AsArray();
            else
            {
                int previousThreads = KernelThreads.Count;
                KernelThreads.Count = threadCount;
                try { ours = MeasureShapes(repCount); }
                finally { KernelThreads.Count = previousThreads; }
            }
            asIs = RunScript(python, scriptPath, threadCount, repCount, unsetOpenBlasHints: false);
            unset = RunScript(python, scriptPath, threadCount, repCount, unsetOpenBlasHints: true);
            if (ReferenceScript.CoreTypeHere is { } coreType)
                avx512 = RunScript(python, scriptPath, threadCount, repCount, unsetOpenBlasHints: false, coreType);
            var roundRatios = new JsonObject();
            foreach (var shape in ours)
            {
                string name = (string)shape!["name"]!;
                double refBest = Math.Max(Math.Max(BestOf(asIs, name), BestOf(unset, name)), avx512 is null ? 0 : BestOf(avx512, name));
                if (refBest <= 0) continue;
                double ratio = (double)shape["best_gflops"]! / refBest;
                ratios[name].Add(ratio);
                roundRatios[name] = Round(ratio, 3);
            }
            roundsJson.Add(roundRatios);
        }
        result["reference"] = new JsonObject { ["env_as_is"] = asIs, ["openblas_hints_unset"] = unset };
        if (avx512 is not null) result["reference"]!["openblas_coretype_" + ReferenceScript.CoreTypeHere!.ToLowerInvariant()] = avx512;
        result["ratio_rounds"] = roundsJson;
        var median = new JsonObject();
        foreach (var (name, list) in ratios) median[name] = list.Count > 0 ? Round(BenchStats.Median(list), 3) : null;
        result["ratio_vs_best_reference"] = median;
    }

    static double BestOf(JsonNode reference, string name) =>
        reference["shapes"]!.AsArray().Where(s => (string)s!["name"]! == name).Select(s => (double)s!["best_gflops"]!).DefaultIfEmpty(0).Max();

    static JsonNode RunScript(string python, string scriptPath, int threadCount, int repCount, bool unsetOpenBlasHints, string? coreType = null) =>
        ReferenceScript.Run(python, scriptPath, ["--threads", threadCount.ToString(), "--reps", repCount.ToString()], unsetOpenBlasHints, coreType);

    static float[] Random(int length, int seed)
    {
        var rng = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        return values;
    }

    static double Round(double value, int digits = 2) => Math.Round(value, digits);
}
