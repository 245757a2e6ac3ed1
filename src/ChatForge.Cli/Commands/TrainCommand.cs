using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatForge.Data;
using ChatForge.Data.Build;
using ChatForge.Data.Sources;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;
using ChatForge.Engine.Training;
using ChatForge.Tokenizer;
using ChatForge.Training.Evaluation;
using ChatForge.Training.Ppo;
using ChatForge.Training.Preference;
using ChatForge.Training.Recipe;
using ChatForge.Training.Report;
using ChatForge.Training.Reward;
using ChatForge.Training.Sft;
using ChatForge.Training.Stages;
using TrainingJsonl = ChatForge.Training.Formats.Jsonl;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `chatforge train --recipe default`: data fetch/build → tokenizer → tokenize → pretrain → SFT → RM → PPO (and DPO)
/// → eval → the model folder (config.json, bf16 model.safetensors, tokenizer files, REPORT.md with plots).
/// &lt;runs&gt;/stages.json records each completed stage; a rerun skips those whose output still exists, resumes an
/// interrupted training stage from its checkpoint, and reruns everything after a stage that had to be redone.
/// </summary>
public sealed class TrainCommand : ICliCommand
{
    static readonly string[] Order = ["data", "tokenizer", "tokenize", "pretrain", "sft", "rm", "ppo", "dpo", "eval", "package"];

    public Command Build()
    {
        var recipe = new Option<string>("--recipe") { Description = "Recipe name (only 'default')", DefaultValueFactory = _ => "default" };
        var recipeFile = new Option<string?>("--recipe-file") { Description = "JSON file overriding recipe sizes (snake_case fields of RecipeOptions)" };
        var dataDir = new Option<string>("--data-dir") { Description = "Data folder", DefaultValueFactory = _ => "data" };
        var output = new Option<string>("--out") { Description = "Model folder to write (replaced, never accumulated)", DefaultValueFactory = _ => "models/default" };
        var runs = new Option<string>("--runs") { Description = "Runs folder (stage runs, checkpoints, stages.json)", DefaultValueFactory = _ => "runs/default" };
        var threads = new Option<int>("--threads") { Description = "Kernel threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var logEvery = new Option<int>("--log-every") { Description = "Plain-output progress line every N steps", DefaultValueFactory = _ => 25 };
        var command = new Command("train", "Run the whole pipeline with a recipe, skipping stages already complete.");
        foreach (var o in new Option[] { recipe, recipeFile, dataDir, output, runs, threads, logEvery }) command.Options.Add(o);
        command.SetAction(parse => StageCli.Guard("train", () =>
        {
            if (parse.GetValue(recipe) != "default") throw new ArgumentException($"--recipe '{parse.GetValue(recipe)}' is unknown; the only recipe is 'default' (sizes: --recipe-file).");
            var options = parse.GetValue(recipeFile) is { } file ? RecipeOptions.Load(file) : new RecipeOptions();
            options.Validate();
            KernelThreads.Count = parse.GetValue(threads);
            var run = new RecipeRun(options, new DataPaths(parse.GetValue(dataDir)!), Path.GetFullPath(parse.GetValue(runs)!), parse.GetValue(output)!, parse.GetValue(logEvery));
            var summary = run.Execute();
            Console.WriteLine(summary.ToJsonString());
            return 0;
        }));
        return command;
    }

    sealed class RecipeRun(RecipeOptions o, DataPaths paths, string runs, string output, int logEvery)
    {
        readonly StagesFile _stages = StagesFile.Load(runs);
        readonly List<JsonObject> _log = [];
        bool _redoRest;
        ChatTokenizer? _tokenizer;

        string Dir(string stage) => Path.Combine(runs, stage);
        string Model(string stage) => Path.Combine(Dir(stage), "model");
        ChatTokenizer Tokenizer => _tokenizer ??= ChatTokenizer.Load(Dir("tokenizer"));

        public JsonObject Execute()
        {
            Directory.CreateDirectory(runs);
            Stage("data", paths.Root, DataComplete, Data);
            Stage("tokenizer", Dir("tokenizer"), () => File.Exists(Path.Combine(Dir("tokenizer"), ChatTokenizer.RankFileName)), TrainTokenizer);
            Stage("tokenize", paths.Tokens, () => File.Exists(Path.Combine(paths.Tokens, "manifest.json")), Tokenize);
            Stage("pretrain", Dir("pretrain"), () => ModelExists("pretrain"), Pretrain);
            Stage("sft", Dir("sft"), () => ModelExists("sft"), Sft);
            Stage("rm", Dir("rm"), () => ModelExists("rm"), RewardModel);
            Stage("ppo", Dir("ppo"), () => ModelExists("ppo"), Ppo);
            if (o.DpoSteps > 0) Stage("dpo", Dir("dpo"), () => ModelExists("dpo"), Dpo);
            Stage("eval", Dir("eval"), () => File.Exists(Path.Combine(Dir("eval"), "sft.json")), Evaluate);
            Stage("package", Path.GetFullPath(output), () => false, Package);
            return new JsonObject
            {
                ["status"] = "completed", ["model"] = Path.GetFullPath(output), ["report"] = Path.Combine(Path.GetFullPath(output), "REPORT.md"),
                ["stages"] = new JsonArray(_log.ToArray<JsonNode?>()),
                ["metrics"] = JsonSerializer.SerializeToNode(_stages.Find("eval")?.Metrics ?? []),
            };
        }

        bool ModelExists(string stage) => File.Exists(Path.Combine(Model(stage), Checkpoint.ModelFile));

        /// <summary>Skips a stage recorded as complete whose output exists, unless an earlier stage was redone; else runs and records it.</summary>
        void Stage(string name, string outputPath, Func<bool> complete, Func<(Dictionary<string, double> Metrics, JsonObject? Details)> run)
        {
            if (!_redoRest && _stages.Find(name) is not null && complete())
            {
                Console.Error.WriteLine($"train: {name}: complete ({outputPath}), skipped");
                _log.Add(new JsonObject { ["stage"] = name, ["skipped"] = true });
                return;
            }
            // A later stage built on an older output of this one would be stale: start those from scratch.
            bool trainingStage = name is "pretrain" or "sft" or "rm" or "ppo" or "dpo" or "eval";
            if (_redoRest && trainingStage && Directory.Exists(outputPath) && _stages.Find(name) is not null)
                Directory.Delete(outputPath, recursive: true);
            // Earlier segments count only while their run folder is there to be resumed.
            if (trainingStage && !Directory.Exists(outputPath)) StageClock.Discard(runs, name);
            Console.Error.WriteLine($"train: {name}: running");
            using var clock = StageClock.Start(runs, name, heartbeat: TimeSpan.FromSeconds(30));
            var (metrics, details) = run();
            var segments = clock.Complete();
            _stages.Complete(new StageRecord
            {
                Name = name, Output = outputPath, Seconds = segments.Sum(), Segments = segments.Count > 1 ? [.. segments] : null, Metrics = metrics, Details = details,
            });
            _log.Add(new JsonObject { ["stage"] = name, ["skipped"] = false, ["seconds"] = Math.Round(segments.Sum(), 1) });
            _redoRest = true;
        }

        bool DataComplete() =>
            Files(paths.CorpusSplit("train"), "*.txt").Length > 0 && Files(paths.CorpusSplit("val"), "*.txt").Length > 0
            && File.Exists(Path.Combine(paths.Sft, "train.jsonl")) && File.Exists(Path.Combine(paths.Rankings, "train.jsonl"))
            && File.Exists(Path.Combine(paths.Eval, "heldout.jsonl"));

        static string[] Files(string dir, string pattern) => Directory.Exists(dir) ? Directory.GetFiles(dir, pattern).Order(StringComparer.Ordinal).ToArray() : [];

        (Dictionary<string, double>, JsonObject?) Data()
        {
            if (!DataComplete())
            {
                if (!File.Exists(paths.Manifest))
                    new SourceFetcher(paths, new ProcessCommandRunner(), line => Console.Error.WriteLine($"data: {line}")).Fetch(SourceCatalog.All);
                DataBuild.Run(paths, corpus: true, dialogues: true, line => Console.Error.WriteLine($"data: {line}"));
            }
            long Bytes(string split) => Files(paths.CorpusSplit(split), "*.txt").Sum(f => new FileInfo(f).Length);
            long Lines(string path) => File.Exists(path) ? File.ReadLines(path).LongCount(l => l.Length > 0) : 0;
            var details = new JsonObject
            {
                ["corpus_train_mb"] = Math.Round(Bytes("train") / 1e6, 2), ["corpus_val_mb"] = Math.Round(Bytes("val") / 1e6, 2),
                ["sft_dialogues"] = Lines(Path.Combine(paths.Sft, "train.jsonl")), ["rankings"] = Lines(Path.Combine(paths.Rankings, "train.jsonl")),
                ["eval_heldout"] = Lines(Path.Combine(paths.Eval, "heldout.jsonl")), ["eval_absent"] = Lines(Path.Combine(paths.Eval, "absent.jsonl")),
                ["eval_followup"] = Lines(Path.Combine(paths.Eval, "followup.jsonl")),
            };
            return ([], details);
        }

        (Dictionary<string, double>, JsonObject?) TrainTokenizer()
        {
            var files = Files(paths.CorpusSplit("train"), "*.txt");
            if (files.Length == 0) throw new FileNotFoundException($"{paths.CorpusSplit("train")}: no corpus shards to train the tokenizer on.");
            var result = BpeTrainer.TrainFromFiles(files, new BpeTrainerOptions { VocabSize = o.VocabSize });
            _tokenizer = result.ToTokenizer();
            _tokenizer.Save(Dir("tokenizer"));
            return ([], new JsonObject { ["vocab_size"] = _tokenizer.VocabSize, ["input_mb"] = Math.Round(result.InputChars / 1e6, 2) });
        }

        (Dictionary<string, double>, JsonObject?) Tokenize()
        {
            var manifest = CorpusTokenizer.Run(paths, Dir("tokenizer"), line => Console.Error.WriteLine($"tokenize: {line}"));
            var train = manifest.Splits["train"];
            return (new() { ["bytes_per_token"] = train.BytesPerToken }, new JsonObject { ["train_tokens"] = train.Tokens, ["val_tokens"] = manifest.Splits["val"].Tokens });
        }

        (Dictionary<string, double>, JsonObject?) Pretrain()
        {
            using var data = PretrainData.Open(paths.Tokens);
            var saved = Pretrainer.SavedOptions(Dir("pretrain"));
            var options = saved ?? new PretrainOptions
            {
                Steps = o.PretrainSteps, Batch = o.PretrainBatch, SequenceLength = o.PretrainSeq, LearningRate = o.PretrainLearningRate,
                WarmupSteps = Math.Min(o.PretrainWarmup, o.PretrainSteps), EvalEvery = o.PretrainEvalEvery, CheckpointEvery = o.PretrainCheckpointEvery, Seed = o.Seed,
            };
            options = options with { TokensPerByte = data.TokensPerByte ?? ManifestTokensPerByte() };
            var trainer = saved is not null ? Pretrainer.Resume(Dir("pretrain"), data, options)
                : Pretrainer.Start(ModelConfig.Gpt2Style(Tokenizer.VocabSize, o.HiddenSize, o.Layers, o.Heads, o.ContextLength), data, options, Dir("pretrain"));
            Console.Error.WriteLine($"pretrain: {trainer.Model.Layout.ParameterCount:N0} parameters");
            var summary = StageCli.Run("pretrain", options.Steps, trainer.Step, logEvery, (sink, token) =>
            {
                trainer.Progress += e => sink(e switch
                {
                    StepCompleted s => new StageStep("pretrain", s.Step, s.TotalSteps, s.Loss, s.LearningRate, s.GradNorm, s.TokensPerSecond, s.Eta, "tokens"),
                    Evaluated v => new StageEvaluated("pretrain", v.Step, v.BitsPerByte is { } b ? new Dictionary<string, double> { ["val_loss"] = v.ValidationLoss, ["val_bpb"] = b } : new() { ["val_loss"] = v.ValidationLoss }),
                    CheckpointSaved c => new StageCheckpoint("pretrain", c.Step, c.Path),
                    _ => new StageNote("pretrain", e.ToString()),
                });
                return trainer.Run(token);
            });
            Interrupted(summary.Status, "pretrain");
            StageCli.ExportModel(trainer.Model.Parameters, Tokenizer, Model("pretrain"));
            var metrics = new Dictionary<string, double> { ["parameters"] = trainer.Model.Layout.ParameterCount, ["tokens_per_second"] = summary.TokensPerSecond };
            if (summary.FinalTrainLoss is { } l) metrics["train_loss"] = l;
            if (summary.FinalValidationLoss is { } v) metrics["val_loss"] = v;
            if (summary.BitsPerByte is { } bpb) metrics["val_bpb"] = bpb;
            return (metrics, new JsonObject { ["steps"] = options.Steps, ["batch"] = options.Batch, ["seq"] = options.SequenceLength, ["mfu"] = Math.Round(summary.Mfu, 4) });
        }

        double? ManifestTokensPerByte()
        {
            var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(paths.Tokens, "manifest.json")));
            var val = manifest?["splits"]?["val"];
            return val is null || (double)val["bytes"]! == 0 ? null : (double)val["tokens"]! / (double)val["bytes"]!;
        }

        static void Interrupted(string status, string stage)
        {
            if (status != "completed") throw new OperationCanceledException($"{stage} was interrupted; rerun `train` to resume it.");
        }

        (Dictionary<string, double>, JsonObject?) FineTune(string stage, StageOptions options,
            Func<StageOptions, (StageLoop Loop, Func<CancellationToken, StageSummary> Run)> start, Func<(StageLoop Loop, Func<CancellationToken, StageSummary> Run)> resume)
        {
            var (loop, run) = StageLoop.CanResume(Dir(stage)) ? resume() : start(options);
            var summary = StageCli.Run(stage, loop.Options.Steps, loop.Step, logEvery, (sink, token) => { loop.Progress += sink; return run(token); });
            Interrupted(summary.Status, stage);
            StageCli.ExportModel(loop.Model.Parameters, Tokenizer, Model(stage));
            var metrics = summary.Metrics.ToDictionary();
            if (summary.FinalLoss is { } l) metrics["train_loss"] = l;
            return (metrics, new JsonObject { ["steps"] = loop.Options.Steps, ["batch"] = loop.Options.Batch });
        }

        StageOptions Shared(int steps, int batch, float lr) => new()
        {
            Steps = steps, Batch = batch, LearningRate = lr, WarmupSteps = Math.Min(20, steps), SequenceLength = o.SftSeq,
            EvalEvery = Math.Min(o.EvalEvery, steps), CheckpointEvery = Math.Min(o.CheckpointEvery, steps), Seed = o.Seed, Beta = o.DpoBeta,
        };

        List<T> Read<T>(string dir, string name, Func<string, List<T>> read) =>
            File.Exists(Path.Combine(dir, name)) ? read(Path.Combine(dir, name)) : name == "train.jsonl" ? throw new FileNotFoundException($"{Path.Combine(dir, name)} not found.") : [];

        (Dictionary<string, double>, JsonObject?) Sft()
        {
            var train = Read(paths.Sft, "train.jsonl", TrainingJsonl.ReadSft);
            var val = Read(paths.Sft, "val.jsonl", TrainingJsonl.ReadSft);
            return FineTune("sft", Shared(o.SftSteps, o.SftBatch, o.SftLearningRate) with { PretrainMix = o.SftPretrainMix },
                s => { var t = SftTrainer.Start(Model("pretrain"), Dir("sft"), Tokenizer, train, val, s, paths.Tokens); return (t.Loop, t.Run); },
                () => { var t = SftTrainer.Resume(Dir("sft"), Tokenizer, train, val, pretrainTokens: paths.Tokens); return (t.Loop, t.Run); });
        }

        (Dictionary<string, double>, JsonObject?) RewardModel()
        {
            var train = Read(paths.Rankings, "train.jsonl", TrainingJsonl.ReadRankings);
            var val = Read(paths.Rankings, "val.jsonl", TrainingJsonl.ReadRankings);
            return FineTune("rm", Shared(o.RmSteps, o.RmBatch, o.RmLearningRate),
                s => { var t = RewardTrainer.Start(Model("sft"), Dir("rm"), Tokenizer, train, val, s, o.RmLikelihood); return (t.Loop, t.Run); },
                () => { var t = RewardTrainer.Resume(Dir("rm"), Tokenizer, train, val); return (t.Loop, t.Run); });
        }

        (Dictionary<string, double>, JsonObject?) Dpo()
        {
            var train = Read(paths.Rankings, "train.jsonl", TrainingJsonl.ReadRankings);
            var val = Read(paths.Rankings, "val.jsonl", TrainingJsonl.ReadRankings);
            return FineTune("dpo", Shared(o.DpoSteps, o.DpoBatch, o.DpoLearningRate),
                s => { var t = DpoTrainer.Start(Model("sft"), Dir("dpo"), Tokenizer, train, val, s, o.DpoUnknownRepeat); return (t.Loop, t.Run); },
                () => { var t = DpoTrainer.Resume(Model("sft"), Dir("dpo"), Tokenizer, train, val); return (t.Loop, t.Run); });
        }

        (Dictionary<string, double>, JsonObject?) Ppo()
        {
            var prompts = PpoPrompts.FromSft(Read(paths.Sft, "train.jsonl", TrainingJsonl.ReadSft), o.PpoFactGold)
                .Concat(PpoPrompts.FromRankings(Read(paths.Rankings, "train.jsonl", TrainingJsonl.ReadRankings))).ToList();
            var stage = PpoStage.CanResume(Dir("ppo")) ? PpoStage.Resume(Dir("ppo"), Tokenizer, prompts)
                : PpoStage.Start(Model("sft"), Model("rm"), Dir("ppo"), Tokenizer, prompts, new PpoStageOptions
                {
                    Iterations = o.PpoIterations, CheckpointEvery = Math.Max(1, Math.Min(10, o.PpoIterations)), Verifiable = o.PpoVerifiable, RefusalReward = o.PpoRefusalReward,
                    Ppo = new PpoOptions { PromptsPerIteration = o.PpoPrompts, MaxNewTokens = o.PpoMaxNewTokens, Temperature = o.PpoTemperature, KlBeta = o.PpoKlBeta, TargetKl = o.PpoTargetKl, KlHorizon = o.PpoKlHorizon, ActorLearningRate = o.PpoLearningRate, Seed = o.Seed },
                });
            var summary = StageCli.Run("ppo", stage.Options.Iterations, stage.Trainer.Iteration, 1, (sink, token) => { stage.Progress += sink; return stage.Run(token); });
            Interrupted(summary.Status, "ppo");
            StageCli.ExportModel(stage.Trainer.Actor.Parameters, Tokenizer, Model("ppo"));
            var metrics = new Dictionary<string, double>();
            if (summary.Last is { } last)
            {
                metrics["mean_reward"] = last.MeanScore; metrics["kl"] = last.MeanKl; metrics["entropy"] = last.Entropy;
                metrics["clip_fraction"] = last.ClipFraction; metrics["value_loss"] = last.ValueLoss; metrics["answer_length"] = last.MeanAnswerLength;
            }
            return (metrics, new JsonObject { ["iterations"] = stage.Options.Iterations, ["prompts"] = prompts.Count });
        }

        /// <summary>Evaluates every model in stage order (before/after each stage), each saved as eval/&lt;model&gt;.json.</summary>
        (Dictionary<string, double>, JsonObject?) Evaluate()
        {
            Directory.CreateDirectory(Dir("eval"));
            var options = new EvalOptions { MaxItems = o.EvalMaxItems, MaxNewTokens = o.EvalMaxNewTokens, ComparisonPrompts = Math.Min(64, o.EvalMaxItems) };
            Dictionary<string, double> final = [];
            foreach (var model in EvaluatedModels())
            {
                Console.Error.WriteLine($"eval: {model}");
                bool policy = model is "ppo" or "dpo";
                var (report, skipped) = EvalRunner.Run(Model(model), Tokenizer, paths.Root, model == "pretrain" ? null : Model("rm"), policy ? Model("sft") : null, options);
                foreach (var s in skipped) Console.Error.WriteLine($"eval: {model}: skipped {s}");
                File.WriteAllText(Path.Combine(Dir("eval"), model + ".json"), report.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                if (model == o.FinalPolicy) final = report.Metrics();
            }
            return (final, null);
        }

        IEnumerable<string> EvaluatedModels() => new[] { "pretrain", "sft", "ppo", "dpo" }.Where(ModelExists);

        (Dictionary<string, double>, JsonObject?) Package()
        {
            string policy = Model(o.FinalPolicy);
            var parameters = Checkpoint.LoadParameters(policy);
            // Checkpoint.Save swaps the whole folder: the previous model is replaced, never kept beside the new one.
            StageCli.ExportModel(parameters, Tokenizer, output, TensorDType.BF16);
            var evaluations = EvaluatedModels().Select(m => Path.Combine(Dir("eval"), m + ".json")).Where(File.Exists)
                .Select(p => (Path.GetFileNameWithoutExtension(p), EvalReport.Metrics(JsonNode.Parse(File.ReadAllText(p))!.AsObject()))).ToList();
            ReportCard.Write(output, _stages, evaluations, File.ReadAllText(Path.Combine(output, Checkpoint.ConfigFile)), o.FinalPolicy);
            long bytes = Directory.GetFiles(output).Sum(f => new FileInfo(f).Length);
            return (new() { ["model_mb"] = Math.Round(bytes / 1e6, 2) }, new JsonObject { ["policy"] = o.FinalPolicy });
        }
    }
}
