using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;
using ChatForge.Engine.Training;
using Spectre.Console;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `chatforge pretrain`: trains a GPT from scratch on token shards (&lt;data&gt;/train/*.bin, &lt;data&gt;/val/*.bin).
/// Checkpoints go to &lt;out&gt;/checkpoints/step-NNNNNNNN; `--resume` continues the latest one exactly. Ctrl+C stops
/// after the current step and saves a checkpoint. Prints a progress bar on a terminal, plain lines otherwise,
/// and a JSON summary at the end.
/// </summary>
public sealed class PretrainCommand : ICliCommand
{
    /// <summary>Built-in model shapes; the vocabulary comes from the data, the context from --seq (at least).</summary>
    internal static readonly string[] Presets = ["tiny", "a", "b", "llama-small"];

    internal static ModelConfig Preset(string name, int vocab, int seq) => name switch
    {
        "tiny" => ModelConfig.Gpt2Style(vocab, dModel: 128, layers: 4, heads: 4, context: Math.Max(seq, 256)),
        "a" => ModelConfig.Gpt2Style(vocab, dModel: 256, layers: 6, heads: 4, context: Math.Max(seq, 256)),
        "b" => ModelConfig.Gpt2Style(vocab, dModel: 512, layers: 8, heads: 8, context: Math.Max(seq, 512)),
        "llama-small" => ModelConfig.LlamaStyle(vocab, dModel: 512, layers: 8, heads: 8, kvHeads: 2, intermediate: 1408, context: Math.Max(seq, 512)),
        _ => throw new ArgumentException($"--config '{name}' is neither a config.json file nor a preset ({string.Join(", ", Presets)})."),
    };

    public Command Build()
    {
        var data = new Option<string>("--data") { Description = "Directory with train/*.bin and val/*.bin token shards", Required = true };
        var config = new Option<string>("--config") { Description = $"config.json path or preset ({string.Join(", ", Presets)})", DefaultValueFactory = _ => "tiny" };
        var output = new Option<string>("--out") { Description = "Run directory (checkpoints, metrics.jsonl, summary.json)", Required = true };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch") { Description = "Sequences per micro-batch", DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { Description = "Tokens per sequence (T)", DefaultValueFactory = _ => 256 };
        var accum = new Option<int>("--accum") { Description = "Gradient accumulation micro-batches per step", DefaultValueFactory = _ => 1 };
        var lr = new Option<float>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => 6e-4f };
        var minLr = new Option<float>("--min-lr-ratio") { Description = "Final learning rate as a fraction of the peak (cosine)", DefaultValueFactory = _ => 0.1f };
        var warmup = new Option<int>("--warmup") { Description = "Linear warmup steps", DefaultValueFactory = _ => 100 };
        var weightDecay = new Option<float>("--weight-decay") { Description = "AdamW weight decay (matmul weights only)", DefaultValueFactory = _ => 0.1f };
        var clip = new Option<float>("--grad-clip") { Description = "Global gradient-norm clip (0 = off)", DefaultValueFactory = _ => 1f };
        var evalEvery = new Option<int>("--eval-every") { Description = "Validate every N steps", DefaultValueFactory = _ => 100 };
        var evalBatches = new Option<int>("--eval-batches") { Description = "Validation batches per evaluation", DefaultValueFactory = _ => 8 };
        var ckptEvery = new Option<int>("--ckpt-every") { Description = "Checkpoint every N steps (and at the end)", DefaultValueFactory = _ => 500 };
        var seed = new Option<ulong>("--seed") { Description = "Seed for the weights and the data order", DefaultValueFactory = _ => 1337UL };
        var tokensPerByte = new Option<double?>("--tokens-per-byte") { Description = "Tokens per byte of text for bits per byte (default: data manifest.json)" };
        var peak = new Option<double>("--peak-gflops") { Description = "Peak GFLOPS of this machine for MFU (default: estimated from cores and SIMD width)", DefaultValueFactory = _ => -1 };
        var logEvery = new Option<int>("--log-every") { Description = "Plain-output progress line every N steps", DefaultValueFactory = _ => 10 };
        var threads = new Option<int>("--threads") { Description = "Kernel threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its latest checkpoint (starts fresh when there is none)" };

        var command = new Command("pretrain", "Pretrain a GPT on token shards.");
        Option[] all = [data, config, output, steps, batch, seq, accum, lr, minLr, warmup, weightDecay, clip, evalEvery, evalBatches, ckptEvery, seed, tokensPerByte, peak, logEvery, threads, resume];
        foreach (var o in all) command.Options.Add(o);

        command.SetAction(parse =>
        {
            bool Given(Option o) => parse.GetResult(o) is { Implicit: false };
            try
            {
                KernelThreads.Count = parse.GetValue(threads);
                string runDirectory = parse.GetValue(output)!;
                // Open (and check) every shard before anything else, so bad data fails fast.
                using var corpus = PretrainData.Open(parse.GetValue(data)!);

                var saved = parse.GetValue(resume) ? Pretrainer.SavedOptions(runDirectory) : null;
                var options = (saved ?? new PretrainOptions()) with
                {
                    Steps = saved is null || Given(steps) ? parse.GetValue(steps) : saved.Steps,
                    Batch = saved is null || Given(batch) ? parse.GetValue(batch) : saved.Batch,
                    SequenceLength = saved is null || Given(seq) ? parse.GetValue(seq) : saved.SequenceLength,
                    GradAccumulation = saved is null || Given(accum) ? parse.GetValue(accum) : saved.GradAccumulation,
                    LearningRate = saved is null || Given(lr) ? parse.GetValue(lr) : saved.LearningRate,
                    MinLearningRateRatio = saved is null || Given(minLr) ? parse.GetValue(minLr) : saved.MinLearningRateRatio,
                    WarmupSteps = saved is null || Given(warmup) ? parse.GetValue(warmup) : saved.WarmupSteps,
                    WeightDecay = saved is null || Given(weightDecay) ? parse.GetValue(weightDecay) : saved.WeightDecay,
                    GradClip = saved is null || Given(clip) ? parse.GetValue(clip) : saved.GradClip,
                    EvalEvery = saved is null || Given(evalEvery) ? parse.GetValue(evalEvery) : saved.EvalEvery,
                    EvalBatches = saved is null || Given(evalBatches) ? parse.GetValue(evalBatches) : saved.EvalBatches,
                    CheckpointEvery = saved is null || Given(ckptEvery) ? parse.GetValue(ckptEvery) : saved.CheckpointEvery,
                    Seed = saved is null || Given(seed) ? parse.GetValue(seed) : saved.Seed,
                    TokensPerByte = parse.GetValue(tokensPerByte) ?? corpus.TokensPerByte ?? saved?.TokensPerByte,
                    PeakGflops = parse.GetValue(peak) is > 0 and var peakGflops ? peakGflops : PretrainOptions.EstimatedPeakGflops,
                };
                options.Validate();

                Pretrainer trainer;
                if (saved is not null) trainer = Pretrainer.Resume(runDirectory, corpus, options);
                else
                {
                    if (parse.GetValue(resume)) Console.Error.WriteLine($"No checkpoint in {runDirectory}: starting a new run.");
                    string name = parse.GetValue(config)!;
                    var model = File.Exists(name) ? ModelConfig.Load(name) : Preset(name, corpus.VocabSize, options.SequenceLength);
                    trainer = Pretrainer.Start(model, corpus, options, runDirectory);
                }
                return Train(trainer, corpus, parse.GetValue(logEvery));
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or InvalidOperationException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"pretrain: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    static int Train(Pretrainer trainer, PretrainData corpus, int logEvery)
    {
        var config = trainer.Model.Config;
        Console.Error.WriteLine($"pretrain: {trainer.Model.Layout.ParameterCount:N0} parameters ({config.NumLayers} layers, d {config.HiddenSize}, vocab {config.VocabSize}); {corpus}");
        if (trainer.Step > 0) Console.Error.WriteLine($"pretrain: resuming {trainer.RunDirectory} at step {trainer.Step}");

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cancel.IsCancellationRequested) return; // a second Ctrl+C ends the process at once
            e.Cancel = true;
            cancel.Cancel();
            Console.Error.WriteLine("pretrain: stopping after this step and saving a checkpoint (Ctrl+C again to abort)…");
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            bool interactive = AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected && !Console.IsErrorRedirected;
            PretrainSummary summary = interactive ? RunWithProgressBar(trainer, cancel.Token) : RunWithLines(trainer, logEvery, cancel.Token);
            var json = JsonSerializer.SerializeToNode(summary, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })!.AsObject();
            json.Remove("losses"); // the full curve is in summary.json and metrics.jsonl
            Console.WriteLine(json.ToJsonString());
            return 0;
        }
        catch (TrainingDivergedException e)
        {
            Console.Error.WriteLine($"pretrain: {e.Message}");
            return 3;
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    static PretrainSummary RunWithLines(Pretrainer trainer, int logEvery, CancellationToken cancel)
    {
        trainer.Progress += e =>
        {
            string? line = e switch
            {
                StepCompleted s when s.Step % Math.Max(1, logEvery) == 0 || s.Step == 1 || s.Step == s.TotalSteps => Describe(s),
                Evaluated v => Describe(v),
                CheckpointSaved c => $"step {c.Step} | checkpoint {c.Path}",
                _ => null,
            };
            if (line is not null) Console.Error.WriteLine(line);
        };
        return trainer.Run(cancel);
    }

    static PretrainSummary RunWithProgressBar(Pretrainer trainer, CancellationToken cancel)
    {
        PretrainSummary? summary = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("pretrain", maxValue: trainer.Options.Steps);
                task.Value = trainer.Step;
                trainer.Progress += e =>
                {
                    switch (e)
                    {
                        case StepCompleted s:
                            task.Value = s.Step;
                            task.Description = Markup.Escape(Describe(s));
                            break;
                        case Evaluated v:
                            AnsiConsole.MarkupLine(Markup.Escape(Describe(v)));
                            break;
                        case CheckpointSaved c:
                            AnsiConsole.MarkupLine($"[grey]step {c.Step} | checkpoint {Markup.Escape(c.Path)}[/]");
                            break;
                    }
                };
                summary = trainer.Run(cancel);
            });
        return summary!;
    }

    static string Describe(StepCompleted s) => string.Create(CultureInfo.InvariantCulture,
        $"step {s.Step}/{s.TotalSteps} | loss {s.Loss:F4} | lr {s.LearningRate:E2} | norm {s.GradNorm:F2} | {s.TokensPerSecond:F0} tok/s | MFU {s.Mfu:P1} | ETA {Eta(s.Eta)}");

    static string Describe(Evaluated v) => string.Create(CultureInfo.InvariantCulture,
        $"step {v.Step} | val loss {v.ValidationLoss:F4}{(v.BitsPerByte is { } bpb ? $" | val bpb {bpb:F4}" : "")}");

    static string Eta(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";
}
