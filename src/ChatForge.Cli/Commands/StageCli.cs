using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;
using ChatForge.Engine.Training;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;
using ChatForge.Training.Ppo;
using ChatForge.Training.Stages;
using Spectre.Console;

namespace ChatForge.Cli.Commands;

/// <summary>A line of recipe progress that is not a training step (e.g. "tokenizer: 16384 tokens").</summary>
public sealed record StageNote(string Stage, string Text) : StageEvent(Stage, 0);

/// <summary>
/// What the fine-tuning commands share: progress rendering (a Spectre.Console bar on an interactive terminal,
/// plain lines on stderr otherwise), Ctrl+C handling, reading JSONL data, the tokenizer next to a model, the
/// exported model folder, the JSON summary on stdout and the error convention (message on stderr, exit 1).
/// </summary>
public static class StageCli
{
    public static readonly JsonSerializerOptions SummaryJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static bool Interactive => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected && !Console.IsErrorRedirected;

    /// <summary>Runs a stage with progress; <paramref name="body"/> gets the event sink to subscribe and a token that Ctrl+C cancels.</summary>
    public static T Run<T>(string title, long total, long start, int logEvery, Func<Action<StageEvent>, CancellationToken, T> body)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cancel.IsCancellationRequested) return;
            e.Cancel = true;
            cancel.Cancel();
            Console.Error.WriteLine($"{title}: stopping after this step and saving a checkpoint (Ctrl+C again to abort)…");
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            if (!Interactive)
                return body(e => { if (Describe(e, logEvery) is { } line) Console.Error.WriteLine(line); }, cancel.Token);
            T result = default!;
            AnsiConsole.Progress().AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(title), maxValue: Math.Max(1, total));
                    task.Value = start;
                    result = body(e =>
                    {
                        switch (e)
                        {
                            case StageStep or PpoIterated:
                                task.Value = e.Step;
                                task.Description = Markup.Escape(Describe(e, 1)!);
                                break;
                            default:
                                if (Describe(e, 1) is { } line) AnsiConsole.MarkupLine(Markup.Escape(line));
                                break;
                        }
                    }, cancel.Token);
                });
            return result;
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    /// <summary>One plain line for an event, or null when a step is between <paramref name="logEvery"/> lines.</summary>
    public static string? Describe(StageEvent e, int logEvery) => e switch
    {
        StageStep s when s.Step % Math.Max(1, logEvery) == 0 || s.Step == 1 || s.Step == s.TotalSteps => string.Create(CultureInfo.InvariantCulture,
            $"{s.Stage} step {s.Step}/{s.TotalSteps} | loss {s.Loss:F4} | lr {s.LearningRate:E2} | norm {s.GradNorm:F2} | {s.ItemsPerSecond:F1} {s.Unit}/s | ETA {Eta(s.Eta)}"),
        StageStep => null,
        PpoIterated p => string.Create(CultureInfo.InvariantCulture,
            $"ppo iteration {p.Step}/{p.TotalIterations} | reward {p.Stats.MeanScore:F3} | KL {p.Stats.MeanKl:F3} | entropy {p.Stats.Entropy:F3} | clip {p.Stats.ClipFraction * 100:F0}% | value loss {p.Stats.ValueLoss:F4} | length {p.Stats.MeanAnswerLength:F1} | β {p.Stats.Beta:F3} | ETA {Eta(p.Eta)}"),
        StageEvaluated v => $"{v.Stage} step {v.Step} | " + string.Join(" | ", v.Metrics.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F4}"))),
        StageCheckpoint c => $"{c.Stage} step {c.Step} | checkpoint {c.Path}",
        StageNote n => $"{n.Stage}: {n.Text}",
        _ => null,
    };

    static string Eta(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";

    /// <summary>Prints a stage summary as one JSON line on stdout, without the per-step loss curve (that is in metrics.jsonl).</summary>
    public static void PrintSummary(object summary, JsonObject? extra = null)
    {
        var json = JsonSerializer.SerializeToNode(summary, summary.GetType(), SummaryJson)!.AsObject();
        json.Remove("losses");
        json.Remove("evaluations");
        json.Remove("history");
        if (extra is not null) foreach (var (k, v) in extra) json[k] = v?.DeepClone();
        Console.WriteLine(json.ToJsonString());
    }

    /// <summary>Runs a command body; expected failures (bad input, missing files) print "name: message" on stderr and exit 1.</summary>
    public static int Guard(string name, Func<int> body)
    {
        try { return body(); }
        catch (TrainingDivergedException e) { Console.Error.WriteLine($"{name}: {e.Message}"); return 3; }
        catch (OperationCanceledException e) { Console.Error.WriteLine($"{name}: {e.Message}"); return 130; }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or InvalidOperationException
            or UnauthorizedAccessException or TokenizerFileException or JsonException or FormatException)
        {
            Console.Error.WriteLine($"{name}: {e.Message}");
            return 1;
        }
    }

    /// <summary>The tokenizer given, else the one in the model folder (tokenizer.tiktoken + tokenizer.json).</summary>
    public static ChatTokenizer LoadTokenizer(string modelDirectory, string? tokenizerDirectory)
    {
        string folder = tokenizerDirectory ?? modelDirectory;
        if (!File.Exists(Path.Combine(folder, ChatTokenizer.RankFileName)))
            throw new FileNotFoundException(tokenizerDirectory is null
                ? $"No tokenizer in {modelDirectory} ({ChatTokenizer.RankFileName} missing); pass --tokenizer <folder>."
                : $"No tokenizer in {tokenizerDirectory} ({ChatTokenizer.RankFileName} missing).");
        return ChatTokenizer.Load(folder);
    }

    /// <summary>Checks a model folder before loading, so a wrong path says what is missing.</summary>
    public static void RequireModel(string directory, string option)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{option} {directory}: folder not found.");
        foreach (var file in new[] { Checkpoint.ConfigFile, Checkpoint.ModelFile })
            if (!File.Exists(Path.Combine(directory, file)))
                throw new FileNotFoundException($"{option} {directory}: {file} missing (a model folder holds config.json and model.safetensors).");
    }

    /// <summary>
    /// JSONL records from --data: a folder with train.jsonl (and val.jsonl), a folder of *.jsonl files (all training),
    /// or files. --val adds validation files. Errors name file:line.
    /// </summary>
    public static (List<T> Train, List<T> Validation) ReadData<T>(string[] data, string[]? val, Func<string, List<T>> read, string what)
    {
        if (data.Length == 0) throw new ArgumentException($"--data: no {what} given.");
        var trainFiles = new List<string>();
        var valFiles = new List<string>(val ?? []);
        foreach (var path in data)
        {
            if (Directory.Exists(path))
            {
                string train = Path.Combine(path, "train.jsonl"), v = Path.Combine(path, "val.jsonl");
                if (File.Exists(train))
                {
                    trainFiles.Add(train);
                    if (File.Exists(v) && val is null or { Length: 0 }) valFiles.Add(v);
                }
                else
                {
                    var files = Directory.GetFiles(path, "*.jsonl").Order(StringComparer.Ordinal).ToList();
                    if (files.Count == 0) throw new FileNotFoundException($"--data {path}: no train.jsonl or *.jsonl {what} files.");
                    trainFiles.AddRange(files);
                }
            }
            else if (File.Exists(path)) trainFiles.Add(path);
            else throw new FileNotFoundException($"--data {path}: no such file or folder.");
        }
        var trainRecords = trainFiles.SelectMany(read).ToList();
        if (trainRecords.Count == 0) throw new InvalidDataException($"--data: {string.Join(", ", trainFiles)} hold no {what}.");
        return (trainRecords, valFiles.SelectMany(read).ToList());
    }

    /// <summary>Writes the final model folder: config.json, model.safetensors (dtype), tokenizer files.</summary>
    public static string ExportModel(ParameterBuffer parameters, ChatTokenizer tokenizer, string directory, TensorDType dtype = TensorDType.F32)
    {
        Checkpoint.Save(directory, parameters, dtype);
        tokenizer.Save(directory);
        return directory;
    }

    /// <summary>Options of the SFT, RM and DPO commands (StageOptions); explicit ones override a resumed run's saved ones.</summary>
    public sealed class StageOptionSet
    {
        public readonly Option<int> Steps = new("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => 300 };
        public readonly Option<int> Batch = new("--batch") { Description = "Items per step (packed rows, ranked groups or pairs)", DefaultValueFactory = _ => 8 };
        public readonly Option<int> Seq = new("--seq") { Description = "SFT row length in tokens", DefaultValueFactory = _ => 256 };
        public readonly Option<float> Lr = new("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => 1e-4f };
        public readonly Option<int> Warmup = new("--warmup") { Description = "Warmup steps", DefaultValueFactory = _ => 20 };
        public readonly Option<int> EvalEvery = new("--eval-every") { Description = "Validate every N steps", DefaultValueFactory = _ => 50 };
        public readonly Option<int> CkptEvery = new("--ckpt-every") { Description = "Checkpoint every N steps (and at the end)", DefaultValueFactory = _ => 100 };
        public readonly Option<ulong> Seed = new("--seed") { Description = "Data-order seed", DefaultValueFactory = _ => 1UL };
        public readonly Option<float> Beta = new("--beta") { Description = "DPO β", DefaultValueFactory = _ => 0.1f };
        public readonly Option<bool> Resume = new("--resume") { Description = "Continue the run in --out from its latest checkpoint" };
        public readonly Option<int> LogEvery = new("--log-every") { Description = "Plain-output progress line every N steps", DefaultValueFactory = _ => 10 };
        public readonly Option<int> Threads = new("--threads") { Description = "Kernel threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        public readonly Option<string?> Tokenizer = new("--tokenizer") { Description = "Tokenizer folder (default: the model folder)" };

        public void AddTo(Command command, bool withSeq, bool withBeta)
        {
            Option[] all = [Steps, Batch, Lr, Warmup, EvalEvery, CkptEvery, Seed, Resume, LogEvery, Threads, Tokenizer];
            foreach (var o in all) command.Options.Add(o);
            if (withSeq) command.Options.Add(Seq);
            if (withBeta) command.Options.Add(Beta);
        }

        public StageOptions From(ParseResult parse, StageOptions defaults)
        {
            bool Given(Option o) => parse.GetResult(o) is { Implicit: false };
            return defaults with
            {
                Steps = Given(Steps) ? parse.GetValue(Steps) : defaults.Steps,
                Batch = Given(Batch) ? parse.GetValue(Batch) : defaults.Batch,
                SequenceLength = Given(Seq) ? parse.GetValue(Seq) : defaults.SequenceLength,
                LearningRate = Given(Lr) ? parse.GetValue(Lr) : defaults.LearningRate,
                WarmupSteps = Given(Warmup) ? parse.GetValue(Warmup) : defaults.WarmupSteps,
                EvalEvery = Given(EvalEvery) ? parse.GetValue(EvalEvery) : defaults.EvalEvery,
                CheckpointEvery = Given(CkptEvery) ? parse.GetValue(CkptEvery) : defaults.CheckpointEvery,
                Seed = Given(Seed) ? parse.GetValue(Seed) : defaults.Seed,
                Beta = Given(Beta) ? parse.GetValue(Beta) : defaults.Beta,
            };
        }

        /// <summary>Defaults from the option defaults (a new run) or the run's saved options (a resume).</summary>
        public StageOptions Defaults(ParseResult parse, string runDirectory, bool resuming)
        {
            if (resuming) return SavedOptions(runDirectory);
            var d = new StageOptions();
            // Options a command does not have (--seq for rm, --beta for sft) keep StageOptions' defaults.
            T V<T>(Option<T> o, T fallback) => parse.GetResult(o) is null ? fallback : parse.GetValue(o)!;
            return new StageOptions
            {
                Steps = V(Steps, d.Steps), Batch = V(Batch, d.Batch), SequenceLength = V(Seq, d.SequenceLength), LearningRate = V(Lr, d.LearningRate),
                WarmupSteps = V(Warmup, d.WarmupSteps), EvalEvery = V(EvalEvery, d.EvalEvery), CheckpointEvery = V(CkptEvery, d.CheckpointEvery),
                Seed = V(Seed, d.Seed), Beta = V(Beta, d.Beta),
            };
        }
    }

    static StageOptions SavedOptions(string runDirectory)
    {
        var latest = Checkpoint.FindLatest(Path.Combine(runDirectory, "checkpoints"))!;
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(latest, Checkpoint.StateFile)));
        return StageOptions.FromJson(state?["extra"]?["options"] ?? throw new InvalidDataException($"{latest}: no options saved."), latest);
    }

    /// <summary>The SFT/RM/DPO command flow: resume or start, run with progress, export &lt;out&gt;/model, print the summary.</summary>
    public static int RunStage(string name, ParseResult parse, StageOptionSet set, string runDirectory, ChatTokenizer tokenizer,
        Func<StageOptions, (StageLoop Loop, Func<CancellationToken, StageSummary> Run)> start,
        Func<StageOptions, (StageLoop Loop, Func<CancellationToken, StageSummary> Run)> resume)
    {
        KernelThreads.Count = parse.GetValue(set.Threads);
        bool resuming = parse.GetValue(set.Resume) && StageLoop.CanResume(runDirectory);
        if (parse.GetValue(set.Resume) && !resuming) Console.Error.WriteLine($"{name}: no checkpoint in {runDirectory}: starting a new run.");
        var options = set.From(parse, set.Defaults(parse, runDirectory, resuming));
        options.Validate();
        var (loop, run) = resuming ? resume(options) : start(options);
        if (resuming) Console.Error.WriteLine($"{name}: resuming {runDirectory} at step {loop.Step}");
        Console.Error.WriteLine($"{name}: {loop.Model.Layout.ParameterCount:N0} parameters; {options.Steps} steps of {options.Batch}");
        var summary = Run(name, options.Steps, loop.Step, parse.GetValue(set.LogEvery), (sink, token) =>
        {
            loop.Progress += sink;
            return run(token);
        });
        string? model = null;
        if (summary.Status == "completed") model = ExportModel(loop.Model.Parameters, tokenizer, Path.Combine(runDirectory, "model"));
        PrintSummary(summary, new JsonObject { ["model"] = model });
        return 0;
    }
}
