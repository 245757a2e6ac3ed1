using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Training;

/// <summary>
/// The pretraining loop: random [batch, T] windows of the training shards, gradient accumulation, AdamW,
/// global-norm clipping, warmup + cosine schedule, validation loss (and bits per byte) every N steps, a
/// checkpoint every N steps and at the end.
///
/// Run directory: &lt;run&gt;/checkpoints/step-NNNNNNNN/ (model, optimizer moments, trainer state),
/// &lt;run&gt;/metrics.jsonl (one line per step and per evaluation), &lt;run&gt;/summary.json.
/// A resumed run continues exactly: the checkpoint holds the weights, both AdamW moments, the step and the
/// batcher's RNG state, so steps after the checkpoint draw the same windows and compute the same losses.
/// </summary>
public sealed class Pretrainer
{
    public const string Stage = "pretrain";

    readonly Transformer _model;
    readonly PretrainData _data;
    readonly PretrainOptions _options;
    readonly ParameterBuffer _m, _v;
    readonly TokenBatcher _train;
    readonly TokenBatcher _validation;
    readonly LearningRateSchedule _schedule;
    readonly string _runDirectory;
    readonly int[] _inputs, _targets;
    readonly float[] _rowWeights;
    long _step;
    string? _lastCheckpoint;

    public event Action<PretrainEvent>? Progress;

    public Transformer Model => _model;
    public PretrainOptions Options => _options;
    public long Step => _step;
    public string RunDirectory => _runDirectory;
    public string CheckpointsDirectory => Path.Combine(_runDirectory, "checkpoints");

    Pretrainer(Transformer model, PretrainData data, PretrainOptions options, string runDirectory, OptimizerState? optimizer, TrainerState? state)
    {
        options.Validate();
        var config = model.Config;
        if (data.VocabSize > config.VocabSize)
            throw new ArgumentException($"The data's vocabulary ({data.VocabSize} tokens, {data.Directory}) is larger than the model's vocab_size ({config.VocabSize}).");
        if (options.SequenceLength > config.ContextLength)
            throw new ArgumentException($"--seq {options.SequenceLength} exceeds the model's context length (max_position_embeddings {config.ContextLength}).");
        _model = model;
        _data = data;
        _options = options;
        _runDirectory = runDirectory;
        _schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, options.Steps, options.MinLearningRateRatio);
        _train = new TokenBatcher(data.Train, options.SequenceLength, BatchOrder.Random, options.Seed);
        _validation = new TokenBatcher(data.Validation, options.SequenceLength, BatchOrder.Sequential, 0);
        _m = optimizer?.M ?? new ParameterBuffer(model.Layout);
        _v = optimizer?.V ?? new ParameterBuffer(model.Layout);
        if (state is not null)
        {
            _step = state.Step;
            _train.Restore(state.RngState, state.DataPosition);
        }
        int n = options.Batch * options.SequenceLength;
        _inputs = new int[n];
        _targets = new int[n];
        // Every target is valid in pretraining: each row weighs 1/(all rows of all micro-batches), so the
        // accumulated gradient is that of the mean loss over the whole effective batch.
        _rowWeights = new float[n];
        Array.Fill(_rowWeights, 1f / ((float)n * options.GradAccumulation));
        model.EnsureCapacity(options.Batch, options.SequenceLength);
    }

    /// <summary>A new run: fresh weights from the seed. Refuses a run directory that already holds checkpoints.</summary>
    public static Pretrainer Start(ModelConfig config, PretrainData data, PretrainOptions options, string runDirectory)
    {
        config.Validate();
        options.Validate();
        string checkpoints = Path.Combine(runDirectory, "checkpoints");
        if (Checkpoint.FindLatest(checkpoints) is { } existing)
            throw new InvalidOperationException($"{runDirectory} already holds a run (latest checkpoint {existing}); use --resume or another --out.");
        var model = new Transformer(config, options.Seed);
        return new Pretrainer(model, data, options, runDirectory, null, null);
    }

    /// <summary>The options saved in the run's latest checkpoint (null when there is none), so a caller can override some.</summary>
    public static PretrainOptions? SavedOptions(string runDirectory)
    {
        var latest = Checkpoint.FindLatest(Path.Combine(runDirectory, "checkpoints"));
        if (latest is null) return null;
        string path = Path.Combine(latest, Checkpoint.StateFile);
        var node = JsonNode.Parse(File.ReadAllText(path));
        var options = node?["extra"]?["options"] ?? throw new InvalidDataException($"{path}: no pretrain options saved (not a pretraining checkpoint?).");
        return PretrainOptions.FromJson(options, path);
    }

    /// <summary>
    /// Continues the run from its latest checkpoint. Options that decide the data order and the arithmetic
    /// (batch, seq, accum, seed) must equal the saved ones, or the continuation would not be the same run;
    /// steps, eval and checkpoint cadence may change (more steps also stretch the cosine schedule).
    /// </summary>
    public static Pretrainer Resume(string runDirectory, PretrainData data, PretrainOptions options)
    {
        string checkpoints = Path.Combine(runDirectory, "checkpoints");
        var latest = Checkpoint.FindLatest(checkpoints)
            ?? throw new FileNotFoundException($"Nothing to resume: no checkpoint under {checkpoints}.");
        var saved = SavedOptions(runDirectory)!;
        void Same<T>(T now, T before, string name)
        {
            if (!EqualityComparer<T>.Default.Equals(now, before))
                throw new ArgumentException($"Cannot resume {latest} with {name} {now}: the run was trained with {name} {before}.");
        }
        Same(options.Batch, saved.Batch, "--batch");
        Same(options.SequenceLength, saved.SequenceLength, "--seq");
        Same(options.GradAccumulation, saved.GradAccumulation, "--accum");
        Same(options.Seed, saved.Seed, "--seed");
        var parameters = Checkpoint.LoadParameters(latest);
        var (optimizer, state) = Checkpoint.LoadTraining(latest, parameters.Layout);
        if (state.Stage != Stage) throw new InvalidDataException($"{latest}: a '{state.Stage}' checkpoint, not a pretraining one.");
        if (state.Step >= options.Steps)
            throw new ArgumentException($"{latest} is at step {state.Step}, already at or past --steps {options.Steps}; give more steps to continue.");
        var trainer = new Pretrainer(new Transformer(parameters), data, options, runDirectory, optimizer, state) { _lastCheckpoint = latest };
        return trainer;
    }

    /// <summary>
    /// Trains until <see cref="PretrainOptions.Steps"/> or until cancelled (then a checkpoint is saved and
    /// the summary says "interrupted"). Throws <see cref="TrainingDivergedException"/> when the loss or the
    /// gradient norm stops being finite; the weights are left as they were before that step.
    /// </summary>
    public PretrainSummary Run(CancellationToken cancellationToken = default)
    {
        var options = _options;
        int b = options.Batch, t = options.SequenceLength;
        long tokensPerStep = (long)b * t * options.GradAccumulation;
        double flopsPerToken = TrainingFlops.PerToken(_model.Config, t);
        var adamW = new AdamWOptions { Beta1 = options.Beta1, Beta2 = options.Beta2, WeightDecay = options.WeightDecay };
        long startStep = _step;
        var losses = new List<float>();
        float? lastValidation = null;
        double? lastBpb = null;
        var total = Stopwatch.StartNew();
        double averageStepSeconds = 0;
        Directory.CreateDirectory(_runDirectory);
        using var metrics = new StreamWriter(Path.Combine(_runDirectory, "metrics.jsonl"), append: true);
        bool savedAtThisStep = false;

        while (_step < options.Steps)
        {
            var stepTimer = Stopwatch.StartNew();
            float lr = _schedule.At(_step);
            _model.ZeroGrad();
            float loss = 0;
            for (int micro = 0; micro < options.GradAccumulation; micro++)
            {
                _train.Next(_inputs, _targets);
                loss += _model.LanguageModelLoss(_inputs, _targets, b, t, _rowWeights);
            }
            float norm = options.GradClip > 0
                ? GradClip.ClipByGlobalNorm(_model.Grads.Data, options.GradClip)
                : GradClip.GlobalNorm(_model.Grads.Data);
            if (!float.IsFinite(loss) || !float.IsFinite(norm))
            {
                metrics.Flush();
                string where = _lastCheckpoint is null ? "there is no checkpoint of this run yet" : $"the last good checkpoint is {_lastCheckpoint}";
                throw new TrainingDivergedException(_step + 1, _lastCheckpoint,
                    $"Training diverged at step {_step + 1}: loss {loss}, gradient norm {norm} (learning rate {lr:G3}). " +
                    $"Stopped without updating the weights; {where}. Resume from it with a lower --lr or more --warmup.");
            }
            AdamW.Step(_model.Parameters, _model.Grads, _m, _v, adamW, _step + 1, lr);
            _step++;
            savedAtThisStep = false;
            losses.Add(loss);

            double seconds = stepTimer.Elapsed.TotalSeconds;
            averageStepSeconds = losses.Count == 1 ? seconds : 0.9 * averageStepSeconds + 0.1 * seconds;
            double tokensPerSecond = tokensPerStep / seconds;
            double mfu = tokensPerSecond * flopsPerToken / (options.PeakGflops * 1e9);
            var eta = TimeSpan.FromSeconds(averageStepSeconds * (options.Steps - _step));
            metrics.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"step\":{_step},\"loss\":{loss:R},\"lr\":{lr:R},\"grad_norm\":{norm:R},\"tokens_per_second\":{tokensPerSecond:F1}}}"));
            Progress?.Invoke(new StepCompleted(_step, options.Steps, loss, lr, norm, tokensPerSecond, mfu, total.Elapsed, eta));

            bool last = _step == options.Steps;
            if (_step % options.EvalEvery == 0 || last)
            {
                (lastValidation, lastBpb) = EvaluateValidation();
                metrics.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{{\"step\":{_step},\"val_loss\":{lastValidation.Value:R}{(lastBpb is { } bpb ? $",\"val_bpb\":{bpb:R}" : "")}}}"));
                Progress?.Invoke(new Evaluated(_step, lastValidation.Value, lastBpb));
            }
            if (_step % options.CheckpointEvery == 0 || last)
            {
                SaveCheckpoint(lr);
                metrics.Flush();
                savedAtThisStep = true;
            }
            if (cancellationToken.IsCancellationRequested) break;
        }

        bool completed = _step >= options.Steps;
        if (!savedAtThisStep && _step > startStep) SaveCheckpoint(_schedule.At(_step - 1));
        total.Stop();
        long tokens = (_step - startStep) * tokensPerStep;
        double rate = tokens / Math.Max(total.Elapsed.TotalSeconds, 1e-9);
        var summary = new PretrainSummary
        {
            Status = completed ? "completed" : "interrupted",
            StartStep = startStep, Step = _step, TotalSteps = options.Steps,
            Parameters = _model.Layout.ParameterCount,
            TokensThisRun = tokens, ElapsedSeconds = total.Elapsed.TotalSeconds,
            TokensPerSecond = rate, Mfu = rate * flopsPerToken / (options.PeakGflops * 1e9),
            FinalTrainLoss = losses.Count > 0 ? losses[^1] : null,
            FinalValidationLoss = lastValidation, BitsPerByte = lastBpb,
            Checkpoint = _lastCheckpoint, Losses = losses.ToArray(),
        };
        AtomicFile.WriteAllText(Path.Combine(_runDirectory, "summary.json"), SummaryJson(summary));
        return summary;
    }

    /// <summary>Mean loss over the same validation windows every time (sequential from the start of val/).</summary>
    public (float Loss, double? BitsPerByte) EvaluateValidation()
    {
        int b = _options.Batch, t = _options.SequenceLength;
        long batches = Math.Min(_options.EvalBatches, Math.Max(1, _validation.SequentialWindows / b));
        _validation.Restore(0, 0);
        double sum = 0;
        for (int i = 0; i < batches; i++)
        {
            _validation.Next(_inputs, _targets);
            sum += _model.Evaluate(_inputs, _targets, b, t);
        }
        float loss = (float)(sum / batches);
        double? bpb = _options.TokensPerByte is { } ratio ? loss / Math.Log(2) * ratio : null;
        return (loss, bpb);
    }

    void SaveCheckpoint(float lr)
    {
        var extra = new JsonObject { ["options"] = _options.ToJson(), ["data_directory"] = _data.Directory };
        var state = new TrainerState
        {
            Step = _step, DataPosition = _train.Position, RngState = _train.RngState, LearningRate = lr, Stage = Stage, Extra = extra,
        };
        string directory = Checkpoint.StepDirectory(CheckpointsDirectory, _step);
        Checkpoint.Save(directory, _model.Parameters, TensorDType.F32, new OptimizerState(_m, _v), state);
        Checkpoint.Prune(CheckpointsDirectory, _options.KeepCheckpoints);
        _lastCheckpoint = directory;
        Progress?.Invoke(new CheckpointSaved(_step, directory));
    }

    static readonly JsonSerializerOptions SummaryOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static string SummaryJson(PretrainSummary summary) => JsonSerializer.Serialize(summary, SummaryOptions);
}
