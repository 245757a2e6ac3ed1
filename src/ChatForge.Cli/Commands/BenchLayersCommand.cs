using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using ChatForge.Engine.Kernels;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `chatforge bench layers`: times the element-wise and normalisation kernels (forward and backward) on
/// training-sized activations and prints one JSON object: milliseconds per call (median and best), process CPU
/// milliseconds per call (less disturbed on a shared machine) and the effective memory bandwidth at the median.
/// </summary>
public sealed class BenchLayersCommand : ICliCommand
{
    public string? Group => "bench";

    public Command Build()
    {
        var rows = new Option<int>("--rows") { Description = "Token rows (batch × time).", DefaultValueFactory = _ => 4096 };
        var dim = new Option<int>("--dim") { Description = "Model width d.", DefaultValueFactory = _ => 768 };
        var ff = new Option<int>("--ff") { Description = "MLP width (GELU input is rows × ff; SwiGLU gate/up is rows × 2·ff).", DefaultValueFactory = _ => 3072 };
        var heads = new Option<int>("--heads") { Description = "Attention heads for RoPE (head dim = d / heads).", DefaultValueFactory = _ => 12 };
        var parameters = new Option<int>("--params") { Description = "Parameter count for AdamW and gradient clipping.", DefaultValueFactory = _ => 20_000_000 };
        var iterations = new Option<int>("--iterations") { Description = "Timed calls per kernel (median is reported).", DefaultValueFactory = _ => 20 };
        var level = new Option<string?>("--simd") { Description = "Force a SIMD level: Scalar, Vector256 or Vector512 (default: best)." };
        var threads = new Option<int>("--threads") { Description = "Kernel threads (default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("layers", "Benchmark embedding, norms, RoPE, GELU, SwiGLU, bias, AdamW and gradient clipping.");
        foreach (var o in new Option[] { rows, dim, ff, heads, parameters, iterations, level, threads }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var simd = parse.GetValue(level) is { } text ? Enum.Parse<SimdLevel>(text, ignoreCase: true) : Simd.Best;
            KernelThreads.Count = parse.GetValue(threads);
            using (Simd.Force(simd))
            {
                var results = Run(parse.GetValue(rows), parse.GetValue(dim), parse.GetValue(ff), parse.GetValue(heads), parse.GetValue(parameters), parse.GetValue(iterations));
                var report = new Dictionary<string, object>
                {
                    ["bench"] = "layers",
                    ["simd"] = simd.ToString(),
                    ["threads"] = KernelThreads.Count,
                    ["rows"] = parse.GetValue(rows),
                    ["dim"] = parse.GetValue(dim),
                    ["ff"] = parse.GetValue(ff),
                    ["params"] = parse.GetValue(parameters),
                    ["kernels"] = results.Select(r => new { kernel = r.Kernel, ms = r.Ms, best_ms = r.BestMs, cpu_ms = r.CpuMs, gb_per_s = r.GBps }),
                };
                Console.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
            }
            return 0;
        });
        return command;
    }

    sealed record Result(string Kernel, double Ms, double BestMs, double CpuMs, double GBps);

    static List<Result> Run(int n, int d, int ff, int heads, int nParams, int iterations)
    {
        var rng = new Random(1);
        float[] Rand(int len) { var a = GC.AllocateUninitializedArray<float>(len); for (int i = 0; i < len; i++) a[i] = (float)(rng.NextDouble() * 2 - 1); return a; }
        var results = new List<Result>();
        void Time(string name, long bytes, Action body)
        {
            for (int i = 0; i < 3; i++) body();
            var times = new double[iterations];
            var process = Process.GetCurrentProcess();
            var cpu0 = process.TotalProcessorTime;
            for (int i = 0; i < iterations; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                body();
                times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
            process.Refresh();
            double cpuMs = (process.TotalProcessorTime - cpu0).TotalMilliseconds / iterations;
            Array.Sort(times);
            double ms = times[iterations / 2];
            results.Add(new Result(name, Math.Round(ms, 3), Math.Round(times[0], 3), Math.Round(cpuMs, 3), Math.Round(bytes / (ms * 1e6), 2)));
        }

        long nd = (long)n * d, nf = (long)n * ff;
        float[] x = Rand(n * d), dy = Rand(n * d), y = new float[n * d], dx = new float[n * d], w = Rand(d), b = Rand(d), dw = new float[d], db = new float[d];
        float[] mean = new float[n], rstd = new float[n];
        int vocab = 50_304;
        var tokens = Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
        var positions = Enumerable.Range(0, n).Select(i => i % 1024).ToArray();
        float[] tokenTable = Rand(vocab * d), positionTable = Rand(1024 * d), dTokenTable = new float[vocab * d], dPositionTable = new float[1024 * d];
        Time("embedding.forward", 3 * nd * 4, () => Embedding.Forward(tokens, positions, tokenTable, positionTable, y, d));
        Time("embedding.backward", 5 * nd * 4, () => Embedding.Backward(dy, tokens, positions, dTokenTable, dPositionTable, d));
        Time("layernorm.forward", 2 * nd * 4, () => LayerNorm.Forward(x, w, b, y, mean, rstd, n, d, 1e-5f));
        Time("layernorm.backward", 5 * nd * 4, () => LayerNorm.Backward(dy, x, w, mean, rstd, dx, dw, db, n, d));
        Time("rmsnorm.forward", 2 * nd * 4, () => RmsNorm.Forward(x, w, y, rstd, n, d, 1e-6f));
        Time("rmsnorm.backward", 5 * nd * 4, () => RmsNorm.Backward(dy, x, w, rstd, dx, dw, n, d));
        Time("bias.forward", 2 * nd * 4, () => Bias.Forward(y, b, n, d));
        Time("bias.backward", nd * 4, () => Bias.Backward(dy, db, n, d));

        int hd = d / heads, qkvWidth = 3 * heads * hd;
        float[] qkv = Rand(n * qkvWidth);
        var table = new RopeTable(hd, 1024, 10000f);
        Time("rope.forward", 2L * n * 2 * heads * hd * 4, () => Rope.Forward(qkv, positions, table, heads, heads, hd));
        Time("rope.backward", 2L * n * 2 * heads * hd * 4, () => Rope.Backward(qkv, positions, table, heads, heads, hd));

        float[] h = Rand(n * ff), hOut = new float[n * ff], dh = Rand(n * ff), dhIn = new float[n * ff];
        Time("gelu.forward", 2 * nf * 4, () => Gelu.Forward(h, hOut));
        Time("gelu.backward", 3 * nf * 4, () => Gelu.Backward(dh, h, dhIn));
        h = hOut = dh = dhIn = null!;
        float[] gateUp = Rand(2 * n * ff), swOut = new float[n * ff], dSw = Rand(n * ff), dGateUp = new float[2 * n * ff];
        Time("swiglu.forward", 3 * nf * 4, () => SwiGlu.Forward(gateUp, swOut, n, ff));
        Time("swiglu.backward", 5 * nf * 4, () => SwiGlu.Backward(dSw, gateUp, dGateUp, n, ff));
        gateUp = swOut = dSw = dGateUp = null!;

        float[] p = Rand(nParams), g = Rand(nParams), m = new float[nParams], v = new float[nParams];
        var options = new AdamWOptions();
        long step = 0;
        Time("adamw.update", 7L * nParams * 4, () => AdamW.Update(p, g, m, v, options, ++step, 1e-4f, decay: true));
        Time("gradclip.global_norm", (long)nParams * 4, () => GradClip.GlobalNorm(g));
        return results;
    }
}
