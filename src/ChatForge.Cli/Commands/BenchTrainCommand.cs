using ChatForge.Cli.Bench;
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;
using ChatForge.Engine.Training;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `chatforge bench train --config a|b`: full training steps (forward, backward, clipping, AdamW) on random
/// tokens, the same shapes as bench/reference/torch_bench.py. Prints one JSON object; the step time is the median
/// of the timed steps.
/// </summary>
public sealed class BenchTrainCommand : ICliCommand
{
    public string? Group => "bench";

    internal sealed record BenchShape(ModelConfig Config, int Batch, int T);

    internal static BenchShape Shape(string name) => name switch
    {
        "a" => new(ModelConfig.Gpt2Style(vocab: 8192, dModel: 256, layers: 6, heads: 4, context: 256), 16, 256),
        "b" => new(ModelConfig.Gpt2Style(vocab: 8192, dModel: 512, layers: 8, heads: 8, context: 512), 8, 512),
        _ => throw new ArgumentException($"Unknown bench config '{name}' (expected a or b)."),
    };

    public Command Build()
    {
        var config = new Option<string>("--config") { Description = "a (d 256, 6 layers, T 256, batch 16) or b (d 512, 8 layers, T 512, batch 8)", DefaultValueFactory = _ => "a" };
        config.AcceptOnlyFromAmong("a", "b");
        var steps = new Option<int>("--steps") { Description = "Timed steps", DefaultValueFactory = _ => 5 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps first (JIT, page faults)", DefaultValueFactory = _ => 2 };
        var peak = new Option<double>("--peak-gflops") { Description = "Peak GFLOPS of this machine for MFU (default: estimated from cores and SIMD width)", DefaultValueFactory = _ => -1 };
        var threads = new Option<int>("--threads") { Description = "Kernel threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var reference = new Option<bool>("--reference") { Description = "Also run the PyTorch CPU reference (bench/reference/torch_bench.py) in this run and report our/reference ratios." };
        var python = new Option<string>("--python") { Description = "Python with torch for --reference.", DefaultValueFactory = _ => ReferenceScript.DefaultPython };
        var command = new Command("train", "Time full training steps of a GPT-2–style model; prints one JSON object.");
        foreach (var o in new Option[] { config, steps, warmup, peak, threads, reference, python }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            int timed = parse.GetValue(steps), untimed = parse.GetValue(warmup);
            if (timed < 1 || untimed < 0) { Console.Error.WriteLine("--steps must be >= 1 and --warmup >= 0."); return 2; }
            KernelThreads.Count = parse.GetValue(threads);
            var result = Run(Shape(parse.GetValue(config)!), parse.GetValue(config)!, timed, untimed, parse.GetValue(peak) is > 0 and var peakGflops ? peakGflops : ChatForge.Engine.Training.PretrainOptions.EstimatedPeakGflops);
            if (parse.GetValue(reference))
            {
                var torch = ReferenceScript.Run(parse.GetValue(python)!, "bench/reference/torch_bench.py",
                    ["train", "--config", parse.GetValue(config)!, "--steps", timed.ToString(), "--warmup", untimed.ToString(), "--threads", KernelThreads.Count.ToString()], coreType: ReferenceScript.CoreTypeHere);
                result["reference"] = torch;
                result["ratio_tokens_per_s"] = Math.Round((double)result["tokens_per_s"] / (double)torch["tokens_per_s"]!, 3);
            }
            Console.WriteLine(JsonSerializer.Serialize(result));
            return 0;
        });
        return command;
    }

    internal static Dictionary<string, object> Run(BenchShape shape, string name, int steps, int warmup, double peakGflops)
    {
        var (config, batch, t) = shape;
        var model = new Transformer(config, seed: 1);
        model.EnsureCapacity(batch, t);
        var m = new ParameterBuffer(model.Layout);
        var v = new ParameterBuffer(model.Layout);
        var rng = new SplitMix64(2);
        var tokens = new int[batch * t];
        var targets = new int[batch * t];
        for (int i = 0; i < tokens.Length; i++) { tokens[i] = (int)rng.NextInt64(config.VocabSize); targets[i] = (int)rng.NextInt64(config.VocabSize); }
        var adamW = new AdamWOptions();
        var times = new List<double>();
        float loss = 0;
        for (int step = 1; step <= warmup + steps; step++)
        {
            var timer = Stopwatch.StartNew();
            model.ZeroGrad();
            loss = model.LanguageModelLoss(tokens, targets, batch, t);
            GradClip.ClipByGlobalNorm(model.Grads.Data, 1f);
            AdamW.Step(model.Parameters, model.Grads, m, v, adamW, step, 3e-4f);
            if (step > warmup) times.Add(timer.Elapsed.TotalSeconds);
        }
        times.Sort();
        double stepSeconds = times[times.Count / 2];
        double tokensPerSecond = batch * t / stepSeconds;
        double gflops = TrainingFlops.PerToken(config, t) * tokensPerSecond / 1e9;
        return new Dictionary<string, object>
        {
            ["bench"] = "train", ["config"] = name, ["params"] = model.Layout.ParameterCount,
            ["batch"] = batch, ["seq"] = t, ["steps"] = steps, ["threads"] = KernelThreads.Count, ["simd"] = Simd.Level.ToString(),
            ["ms_per_step"] = Math.Round(stepSeconds * 1e3, 1), ["tokens_per_s"] = Math.Round(tokensPerSecond, 1),
            ["gflops"] = Math.Round(gflops, 1), ["mfu"] = Math.Round(gflops / peakGflops, 4), ["peak_gflops"] = peakGflops,
            ["loss"] = loss,
        };
    }
}
