using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;
using ChatForge.Training.Reward;
using ChatForge.Training.Stages;

namespace ChatForge.Training.Ppo;

public sealed record PpoStageOptions
{
    public int Iterations { get; init; } = 100;
    public int CheckpointEvery { get; init; } = 10;
    public int KeepCheckpoints { get; init; } = 2;
    /// <summary>Add the exact-match reward (±1) for prompts with gold answers.</summary>
    public bool Verifiable { get; init; } = true;
    /// <summary>
    /// With Verifiable: also ±1 for refusing or not where the data knows whether the fact exists (<see cref="VerifiableReward"/>).
    /// Off unless asked, so runs checkpointed before it existed resume unchanged.
    /// </summary>
    public bool RefusalReward { get; init; }
    public PpoOptions Ppo { get; init; } = new();

    public void Validate()
    {
        if (Iterations < 1) throw new ArgumentException($"--iterations must be at least 1, got {Iterations}.");
        if (CheckpointEvery < 1) throw new ArgumentException($"--ckpt-every must be at least 1, got {CheckpointEvery}.");
        if (KeepCheckpoints < 1) throw new ArgumentException("Keep at least 1 checkpoint.");
        Ppo.Validate();
    }

    internal static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    public JsonObject ToJson() => JsonSerializer.SerializeToNode(this, Json)!.AsObject();
    public static PpoStageOptions FromJson(JsonNode node, string source) =>
        node.Deserialize<PpoStageOptions>(Json) ?? throw new InvalidDataException($"{source}: missing PPO options.");
}

/// <summary>One PPO iteration finished (rendered by the CLI like a training step).</summary>
public sealed record PpoIterated(PpoIterationStats Stats, long TotalIterations, TimeSpan Eta) : StageEvent(PpoStage.Stage, Stats.Iteration);

public sealed record PpoStageSummary
{
    public required string Status { get; init; }
    public required int StartIteration { get; init; }
    public required int Iteration { get; init; }
    public required double ElapsedSeconds { get; init; }
    public PpoIterationStats? Last { get; init; }
    public string? Checkpoint { get; init; }
    public required IReadOnlyList<PpoIterationStats> History { get; init; }
}

/// <summary>
/// A resumable PPO run around <see cref="PpoTrainer"/>: prompts walked in seeded epochs, per-iteration stats
/// appended to &lt;run&gt;/metrics.jsonl, and every N iterations a checkpoint in &lt;run&gt;/checkpoints/step-N holding the
/// actor (weights + AdamW moments + state), the critic in its critic/ subfolder (weights + moments), β, the
/// iteration and the prompt cursor. The frozen reference and the reward model are re-read from the SFT and RM
/// folders named in the state, so a resumed run continues exactly.
/// </summary>
public sealed class PpoStage
{
    public const string Stage = "ppo", CriticFolder = "critic";

    readonly string _runDirectory, _sftDirectory, _rewardModelDirectory;
    readonly PpoStageOptions _options;
    readonly PpoTrainer _trainer;
    readonly IChatTokenizer _tokenizer;
    readonly IReadOnlyList<PpoPrompt> _prompts;
    readonly VerifiableReward? _verifiable;
    readonly EpochCursor _cursor;
    string? _lastCheckpoint;

    public event Action<StageEvent>? Progress;
    public PpoTrainer Trainer => _trainer;
    public PpoStageOptions Options => _options;
    public string CheckpointsDirectory => Path.Combine(_runDirectory, "checkpoints");

    PpoStage(string runDirectory, string sft, string rm, IChatTokenizer tokenizer, IReadOnlyList<PpoPrompt> prompts, PpoStageOptions options,
        Transformer actor, Transformer critic, JsonObject? cursor)
    {
        options.Validate();
        if (prompts.Count == 0) throw new ArgumentException("No PPO prompts.");
        _runDirectory = runDirectory; _sftDirectory = sft; _rewardModelDirectory = rm; _options = options; _tokenizer = tokenizer; _prompts = prompts;
        var reference = new Transformer(Checkpoint.LoadParameters(sft));
        var rewardModel = new Transformer(Checkpoint.LoadParameters(rm));
        IRewardFunction reward = new RewardModelReward(new RewardScorer(rewardModel, tokenizer), tokenizer);
        if (options.Verifiable) reward = _verifiable = new VerifiableReward(reward, tokenizer);
        _trainer = new PpoTrainer(actor, reference, critic, reward, tokenizer.StopTokenIds, options.Ppo);
        _cursor = new EpochCursor(prompts.Count, options.Ppo.PromptsPerIteration, options.Ppo.Seed);
        _cursor.Restore(cursor);
    }

    /// <summary>A new run: actor from the SFT model, critic initialised from the reward model (as in InstructGPT).</summary>
    public static PpoStage Start(string sftDirectory, string rewardModelDirectory, string runDirectory, IChatTokenizer tokenizer,
        IReadOnlyList<PpoPrompt> prompts, PpoStageOptions options)
    {
        if (FindLatest(Path.Combine(runDirectory, "checkpoints")) is { } existing)
            throw new InvalidOperationException($"{runDirectory} already holds a ppo run (latest checkpoint {existing}); use --resume or another --out.");
        var actor = new Transformer(Checkpoint.LoadParameters(sftDirectory));
        var critic = new Transformer(Checkpoint.LoadParameters(rewardModelDirectory));
        if (critic.Layout.Score is null) throw new InvalidDataException($"{rewardModelDirectory}: not a reward model (its config has no score head).");
        if (actor.Config.VocabSize < tokenizer.VocabSize)
            throw new ArgumentException($"The tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {actor.Config.VocabSize}.");
        return new PpoStage(runDirectory, Path.GetFullPath(sftDirectory), Path.GetFullPath(rewardModelDirectory), tokenizer, prompts, options, actor, critic, null);
    }

    public static bool CanResume(string runDirectory) => FindLatest(Path.Combine(runDirectory, "checkpoints")) is not null;

    /// <summary>Continues the latest complete checkpoint; <paramref name="iterations"/> may extend the run.</summary>
    public static PpoStage Resume(string runDirectory, IChatTokenizer tokenizer, IReadOnlyList<PpoPrompt> prompts, int? iterations = null)
    {
        string root = Path.Combine(runDirectory, "checkpoints");
        var latest = FindLatest(root) ?? throw new FileNotFoundException($"Nothing to resume: no complete PPO checkpoint under {root}.");
        var actorParameters = Checkpoint.LoadParameters(latest);
        var (actorOptimizer, state) = Checkpoint.LoadTraining(latest, actorParameters.Layout);
        if (state.Stage != Stage) throw new InvalidDataException($"{latest}: a '{state.Stage}' checkpoint, not a ppo one.");
        string criticDirectory = Path.Combine(latest, CriticFolder);
        var criticParameters = Checkpoint.LoadParameters(criticDirectory);
        var (criticOptimizer, _) = Checkpoint.LoadTraining(criticDirectory, criticParameters.Layout);
        var extra = state.Extra ?? throw new InvalidDataException($"{latest}: no PPO state saved.");
        var options = PpoStageOptions.FromJson(extra["options"] ?? throw new InvalidDataException($"{latest}: no options saved."), latest);
        if (iterations is { } n) options = options with { Iterations = n };
        var stage = new PpoStage(runDirectory, (string)extra["sft"]!, (string)extra["reward_model"]!, tokenizer, prompts, options,
            new Transformer(actorParameters), new Transformer(criticParameters), extra["cursor"]?.AsObject());
        stage._trainer.Restore((int)state.Step, (long)extra["actor_step"]!, (long)extra["critic_step"]!, (float)extra["beta"]!, actorOptimizer, criticOptimizer);
        stage._lastCheckpoint = latest;
        return stage;
    }

    /// <summary>Latest step folder holding both the actor and the critic (a crash between the two leaves the older one).</summary>
    static string? FindLatest(string root) =>
        !Directory.Exists(root) ? null : Directory.GetDirectories(root, "step-*").Where(d => !Path.GetFileName(d).Contains('.'))
            .OrderByDescending(d => d, StringComparer.Ordinal)
            .FirstOrDefault(d => File.Exists(Path.Combine(d, Checkpoint.ModelFile)) && File.Exists(Path.Combine(d, CriticFolder, Checkpoint.ModelFile)));

    public PpoStageSummary Run(CancellationToken cancellationToken = default)
    {
        int start = _trainer.Iteration;
        var history = new List<PpoIterationStats>();
        var total = Stopwatch.StartNew();
        bool savedNow = false;
        Directory.CreateDirectory(_runDirectory);
        using var log = new StreamWriter(Path.Combine(_runDirectory, "metrics.jsonl"), append: true);
        int maxNew = _options.Ppo.MaxNewTokens, context = _trainer.Actor.Config.ContextLength;
        while (_trainer.Iteration < _options.Iterations && !cancellationToken.IsCancellationRequested)
        {
            var batch = _cursor.Next().Select(i => _prompts[i]).ToList();
            if (_verifiable is not null)
            {
                _verifiable.Gold = batch.Select(p => p.Gold).ToList();
                _verifiable.Answerable = _options.RefusalReward ? batch.Select(p => p.Answerable).ToList() : [];
            }
            var (stats, _) = _trainer.Iterate(batch.Select(p => PpoPrompts.Render(_tokenizer, p, context, maxNew)).ToList());
            history.Add(stats);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"stage\":\"ppo\",\"step\":{stats.Iteration},\"mean_reward\":{stats.MeanScore:R},\"kl\":{stats.MeanKl:R},\"entropy\":{stats.Entropy:R},\"clip_fraction\":{stats.ClipFraction:R},\"policy_loss\":{stats.PolicyLoss:R},\"value_loss\":{stats.ValueLoss:R},\"answer_length\":{stats.MeanAnswerLength:R},\"beta\":{stats.Beta:R}}}"));
            var eta = TimeSpan.FromSeconds(total.Elapsed.TotalSeconds / (stats.Iteration - start) * (_options.Iterations - stats.Iteration));
            Progress?.Invoke(new PpoIterated(stats, _options.Iterations, eta));
            savedNow = false;
            if (stats.Iteration % _options.CheckpointEvery == 0 || stats.Iteration == _options.Iterations)
            {
                Save();
                log.Flush();
                savedNow = true;
            }
        }
        if (!savedNow && _trainer.Iteration > start) Save();
        return new PpoStageSummary
        {
            Status = _trainer.Iteration >= _options.Iterations ? "completed" : "interrupted",
            StartIteration = start, Iteration = _trainer.Iteration, ElapsedSeconds = total.Elapsed.TotalSeconds,
            Last = history.LastOrDefault(), Checkpoint = _lastCheckpoint, History = history,
        };
    }

    void Save()
    {
        var (actorStep, criticStep) = _trainer.OptimizerSteps;
        var extra = new JsonObject
        {
            ["options"] = _options.ToJson(), ["sft"] = _sftDirectory, ["reward_model"] = _rewardModelDirectory,
            ["cursor"] = _cursor.Save(), ["actor_step"] = actorStep, ["critic_step"] = criticStep, ["beta"] = _trainer.Beta,
        };
        string directory = Checkpoint.StepDirectory(CheckpointsDirectory, _trainer.Iteration);
        Checkpoint.Save(directory, _trainer.Actor.Parameters, TensorDType.F32, _trainer.ActorOptimizer,
            new TrainerState { Step = _trainer.Iteration, Stage = Stage, LearningRate = _options.Ppo.ActorLearningRate, Extra = extra });
        Checkpoint.Save(Path.Combine(directory, CriticFolder), _trainer.Critic.Parameters, TensorDType.F32, _trainer.CriticOptimizer,
            new TrainerState { Step = _trainer.Iteration, Stage = "ppo-critic", LearningRate = _options.Ppo.CriticLearningRate });
        Checkpoint.Prune(CheckpointsDirectory, _options.KeepCheckpoints);
        _lastCheckpoint = directory;
        Progress?.Invoke(new StageCheckpoint(Stage, _trainer.Iteration, directory));
    }
}
