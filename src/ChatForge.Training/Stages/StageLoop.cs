using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;
using ChatForge.Engine.Training;

namespace ChatForge.Training.Stages;

/// <summary>
/// The optimisation loop every fine-tuning stage shares: zero gradients, let the stage accumulate one step's
/// gradients, clip, stop on a non-finite loss or norm, AdamW with warmup + cosine, evaluate and checkpoint on
/// schedule. Checkpoints live in &lt;run&gt;/checkpoints/step-N and hold the weights, both AdamW moments, the
/// step, the options and the stage's data position, so <see cref="Resume"/> continues the same run exactly.
/// </summary>
public sealed class StageLoop
{
    readonly string _stage, _runDirectory;
    readonly Transformer _model;
    readonly StageOptions _options;
    readonly ParameterBuffer _m, _v;
    readonly LearningRateSchedule _schedule;
    long _step;
    string? _lastCheckpoint;

    public event Action<StageEvent>? Progress;
    public long Step => _step;
    public Transformer Model => _model;
    public StageOptions Options => _options;
    public string CheckpointsDirectory => Path.Combine(_runDirectory, "checkpoints");

    StageLoop(string stage, string runDirectory, Transformer model, StageOptions options, OptimizerState? optimizer, long step, string? lastCheckpoint)
    {
        options.Validate();
        _stage = stage; _runDirectory = runDirectory; _model = model; _options = options;
        _m = optimizer?.M ?? new ParameterBuffer(model.Layout);
        _v = optimizer?.V ?? new ParameterBuffer(model.Layout);
        _schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, options.Steps, options.MinLearningRateRatio);
        _step = step;
        _lastCheckpoint = lastCheckpoint;
    }

    /// <summary>A new run from initial weights; refuses a run folder that already holds this stage's checkpoints.</summary>
    public static StageLoop Start(string stage, string runDirectory, Transformer model, StageOptions options)
    {
        if (Checkpoint.FindLatest(Path.Combine(runDirectory, "checkpoints")) is { } existing)
            throw new InvalidOperationException($"{runDirectory} already holds a {stage} run (latest checkpoint {existing}); use --resume or another --out.");
        return new StageLoop(stage, runDirectory, model, options, null, 0, null);
    }

    /// <summary>True when the run folder has a checkpoint of this stage to continue from.</summary>
    public static bool CanResume(string runDirectory) => Checkpoint.FindLatest(Path.Combine(runDirectory, "checkpoints")) is not null;

    /// <summary>Continues from the latest checkpoint; returns the loop and the stage's saved data position.</summary>
    public static (StageLoop Loop, JsonObject? StageState) Resume(string stage, string runDirectory, StageOptions? overrideOptions = null)
    {
        string root = Path.Combine(runDirectory, "checkpoints");
        var latest = Checkpoint.FindLatest(root) ?? throw new FileNotFoundException($"Nothing to resume: no checkpoint under {root}.");
        var parameters = Checkpoint.LoadParameters(latest);
        var (optimizer, state) = Checkpoint.LoadTraining(latest, parameters.Layout);
        if (state.Stage != stage) throw new InvalidDataException($"{latest}: a '{state.Stage}' checkpoint, not a {stage} one.");
        var saved = StageOptions.FromJson(state.Extra?["options"] ?? throw new InvalidDataException($"{latest}: no options saved."), latest);
        // What decides the data order stays as saved, so the resumed run sees the batches the uninterrupted one would have.
        var options = overrideOptions is null ? saved
            : overrideOptions with { Batch = saved.Batch, SequenceLength = saved.SequenceLength, Seed = saved.Seed, PretrainMix = saved.PretrainMix };
        var loop = new StageLoop(stage, runDirectory, new Transformer(parameters), options, optimizer, state.Step, latest);
        return (loop, state.Extra?["stage_state"]?.AsObject());
    }

    /// <summary>
    /// Runs until Steps or cancellation. <paramref name="trainStep"/>(step) accumulates one step's gradients and
    /// returns its loss; <paramref name="evaluate"/> returns held-out metrics; <paramref name="stageState"/> is
    /// saved with each checkpoint so the stage can resume its data order.
    /// </summary>
    public StageSummary Run(Func<long, float> trainStep, Func<IReadOnlyDictionary<string, double>> evaluate,
        Func<JsonObject> stageState, CancellationToken cancellationToken = default)
    {
        var adamW = new AdamWOptions { WeightDecay = _options.WeightDecay };
        long startStep = _step;
        var losses = new List<float>();
        var evaluations = new List<(long, IReadOnlyDictionary<string, double>)>();
        IReadOnlyDictionary<string, double> lastMetrics = new Dictionary<string, double>();
        var total = Stopwatch.StartNew();
        bool savedNow = false;
        Directory.CreateDirectory(_runDirectory);
        using var log = new StreamWriter(Path.Combine(_runDirectory, "metrics.jsonl"), append: true);

        while (_step < _options.Steps && !cancellationToken.IsCancellationRequested)
        {
            var timer = Stopwatch.StartNew();
            float lr = _schedule.At(_step);
            _model.ZeroGrad();
            float loss = trainStep(_step);
            float norm = _options.GradClip > 0 ? GradClip.ClipByGlobalNorm(_model.Grads.Data, _options.GradClip) : GradClip.GlobalNorm(_model.Grads.Data);
            if (!float.IsFinite(loss) || !float.IsFinite(norm))
                throw new TrainingDivergedException(_step + 1, _lastCheckpoint,
                    $"{_stage} diverged at step {_step + 1}: loss {loss}, gradient norm {norm}. Stopped without updating the weights; " +
                    (_lastCheckpoint is null ? "there is no checkpoint of this run yet." : $"the last good checkpoint is {_lastCheckpoint}."));
            AdamW.Step(_model.Parameters, _model.Grads, _m, _v, adamW, _step + 1, lr);
            _step++;
            savedNow = false;
            losses.Add(loss);
            double seconds = timer.Elapsed.TotalSeconds;
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"stage\":\"{_stage}\",\"step\":{_step},\"loss\":{loss:R},\"lr\":{lr:R},\"grad_norm\":{norm:R}}}"));
            var eta = TimeSpan.FromSeconds(total.Elapsed.TotalSeconds / (_step - startStep) * (_options.Steps - _step));
            Progress?.Invoke(new StageStep(_stage, _step, _options.Steps, loss, lr, norm, _options.Batch / seconds, eta, BatchUnit(_stage)));

            bool last = _step == _options.Steps;
            if (_step % _options.EvalEvery == 0 || last)
            {
                lastMetrics = evaluate();
                evaluations.Add((_step, lastMetrics));
                var json = new JsonObject { ["stage"] = _stage, ["step"] = _step };
                foreach (var (k, v) in lastMetrics) json[k] = v;
                log.WriteLine(json.ToJsonString());
                Progress?.Invoke(new StageEvaluated(_stage, _step, lastMetrics));
            }
            if (_step % _options.CheckpointEvery == 0 || last)
            {
                Save(lr, stageState());
                log.Flush();
                savedNow = true;
            }
        }
        if (!savedNow && _step > startStep) Save(_schedule.At(_step - 1), stageState());
        return new StageSummary
        {
            Stage = _stage, Status = _step >= _options.Steps ? "completed" : "interrupted",
            StartStep = startStep, Step = _step, ElapsedSeconds = total.Elapsed.TotalSeconds,
            FinalLoss = losses.Count > 0 ? losses[^1] : null, Metrics = lastMetrics,
            Checkpoint = _lastCheckpoint, Losses = losses.ToArray(), Evaluations = evaluations,
        };
    }

    void Save(float lr, JsonObject stageState)
    {
        var state = new TrainerState
        {
            Step = _step, LearningRate = lr, Stage = _stage,
            Extra = new JsonObject { ["options"] = _options.ToJson(), ["stage_state"] = stageState },
        };
        string directory = Checkpoint.StepDirectory(CheckpointsDirectory, _step);
        Checkpoint.Save(directory, _model.Parameters, TensorDType.F32, new OptimizerState(_m, _v), state);
        Checkpoint.Prune(CheckpointsDirectory, _options.KeepCheckpoints);
        _lastCheckpoint = directory;
        Progress?.Invoke(new StageCheckpoint(_stage, _step, directory));
    }

    /// <summary>What one batch item is in each stage, for the progress line.</summary>
    static string BatchUnit(string stage) => stage switch { "sft" => "rows", "rm" => "rankings", "dpo" => "pairs", _ => "items" };
}
