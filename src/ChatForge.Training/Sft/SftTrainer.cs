using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Engine.Training;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;
using ChatForge.Training.Stages;

namespace ChatForge.Training.Sft;

/// <summary>
/// Supervised fine-tuning: continue the pretrained model on trainer-written dialogues, with the loss on the
/// assistant's tokens only. Dialogues are packed into rows once (in a seeded order); each step takes Batch
/// rows, epoch after epoch, reshuffling rows per epoch. With StageOptions.PretrainMix = f, f of all rows are
/// instead random windows of the pretraining token shards with the loss on every token (so fine-tuning keeps
/// practising plain text); which steps get them depends only on the step, and the windows' position is saved
/// with each checkpoint, so a resumed run repeats the uninterrupted one.
/// </summary>
public sealed class SftTrainer : IDisposable
{
    public const string Stage = "sft";

    readonly StageLoop _loop;
    readonly int[] _trainInputs, _trainTargets, _valInputs, _valTargets;
    readonly int _trainRows, _valRows, _t;
    readonly EpochCursor _cursor;
    readonly int[] _batchInputs, _batchTargets;
    readonly PretrainData? _pretrain;
    readonly TokenBatcher? _pretrainWindows;

    public StageLoop Loop => _loop;
    public int TrainRows => _trainRows;
    public int Truncated { get; }

    SftTrainer(StageLoop loop, IChatTokenizer tokenizer, IReadOnlyList<SftRecord> train, IReadOnlyList<SftRecord> validation,
        System.Text.Json.Nodes.JsonObject? state, string? pretrainTokens)
    {
        _loop = loop;
        var options = loop.Options;
        _t = options.SequenceLength;
        if (_t > loop.Model.Config.ContextLength)
            throw new ArgumentException($"--seq {_t} exceeds the model's context length ({loop.Model.Config.ContextLength}).");
        var trainSequences = train.Select(r => SftPacker.Render(r, tokenizer)).ToList();
        new Random(unchecked((int)options.Seed)).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(trainSequences));
        int pad = tokenizer.StopTokenIds[^1];
        (_trainInputs, _trainTargets, _trainRows, int truncated) = SftPacker.Pack(trainSequences, _t, pad);
        Truncated = truncated;
        (_valInputs, _valTargets, _valRows, _) = SftPacker.Pack(validation.Select(r => SftPacker.Render(r, tokenizer)).ToList(), _t, pad);
        _cursor = new EpochCursor(_trainRows, options.Batch, options.Seed);
        _cursor.Restore(state);
        if (options.PretrainMix > 0)
        {
            if (pretrainTokens is null)
                throw new ArgumentException($"This SFT run mixes in {options.PretrainMix:P0} pretraining text: give the token shards folder (--tokens).");
            _pretrain = PretrainData.Open(pretrainTokens);
            try
            {
                if (_pretrain.VocabSize > loop.Model.Config.VocabSize)
                    throw new InvalidDataException($"{pretrainTokens}: shards use a vocabulary of {_pretrain.VocabSize} but the model's vocab_size is {loop.Model.Config.VocabSize}.");
                _pretrainWindows = new TokenBatcher(_pretrain.Train, _t, BatchOrder.Random, options.Seed ^ 0x5F7E_7A1C_0DE5_EEDUL);
                if (state?["pretrain_rng"] is { } rng)
                    _pretrainWindows.Restore((ulong)rng, (long)(state["pretrain_position"] ?? throw new InvalidDataException("SFT checkpoint: pretrain_rng without pretrain_position.")));
            }
            catch { _pretrain.Dispose(); throw; }
        }
        _batchInputs = new int[options.Batch * _t];
        _batchTargets = new int[options.Batch * _t];
        loop.Model.EnsureCapacity(options.Batch, _t);
    }

    /// <param name="pretrainTokens">The pretraining token shards folder (with train/*.bin), needed when options.PretrainMix &gt; 0.</param>
    public static SftTrainer Start(string modelDirectory, string runDirectory, IChatTokenizer tokenizer,
        IReadOnlyList<SftRecord> train, IReadOnlyList<SftRecord> validation, StageOptions options, string? pretrainTokens = null)
    {
        if (train.Count == 0) throw new ArgumentException("No SFT dialogues to train on.");
        var model = new Transformer(Checkpoint.LoadParameters(modelDirectory));
        if (model.Config.VocabSize < tokenizer.VocabSize)
            throw new ArgumentException($"The tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {model.Config.VocabSize}.");
        return new SftTrainer(StageLoop.Start(Stage, runDirectory, model, options), tokenizer, train, validation, null, pretrainTokens);
    }

    public static SftTrainer Resume(string runDirectory, IChatTokenizer tokenizer, IReadOnlyList<SftRecord> train,
        IReadOnlyList<SftRecord> validation, StageOptions? options = null, string? pretrainTokens = null)
    {
        var (loop, state) = StageLoop.Resume(Stage, runDirectory, options);
        return new SftTrainer(loop, tokenizer, train, validation, state, pretrainTokens);
    }

    public StageSummary Run(CancellationToken cancellationToken = default) =>
        _loop.Run(step => TrainStep(step), Evaluate, SaveState, cancellationToken);

    System.Text.Json.Nodes.JsonObject SaveState()
    {
        var state = _cursor.Save();
        if (_pretrainWindows is not null) { state["pretrain_rng"] = _pretrainWindows.RngState; state["pretrain_position"] = _pretrainWindows.Position; }
        return state;
    }

    /// <summary>
    /// Pretraining rows in the batch of <paramref name="step"/>: floor((step+1)·B·f) − floor(step·B·f), so after any
    /// number of steps the share of pretraining rows is f to within one row.
    /// </summary>
    public static int PretrainRows(long step, int batch, float mix) =>
        (int)(Math.Floor((step + 1) * (double)batch * mix) - Math.Floor(step * (double)batch * mix));

    /// <summary>
    /// The rows of one step: SFT rows first (targets on assistant tokens), then the step's pretraining windows (targets on
    /// every token). Advances the data position; returns the rows and how many are pretraining text.
    /// </summary>
    public (int Rows, int PretrainRows) NextBatch(long step, out ReadOnlySpan<int> inputs, out ReadOnlySpan<int> targets)
    {
        int b = _loop.Options.Batch;
        int mixed = _pretrainWindows is null ? 0 : PretrainRows(step, b, _loop.Options.PretrainMix);
        var rows = _cursor.Next(Math.Max(0, Math.Min(b, _trainRows) - mixed));
        for (int i = 0; i < rows.Length; i++)
        {
            _trainInputs.AsSpan(rows[i] * _t, _t).CopyTo(_batchInputs.AsSpan(i * _t));
            _trainTargets.AsSpan(rows[i] * _t, _t).CopyTo(_batchTargets.AsSpan(i * _t));
        }
        if (mixed > 0) _pretrainWindows!.Next(_batchInputs.AsSpan(rows.Length * _t, mixed * _t), _batchTargets.AsSpan(rows.Length * _t, mixed * _t));
        int n = rows.Length + mixed;
        inputs = _batchInputs.AsSpan(0, n * _t);
        targets = _batchTargets.AsSpan(0, n * _t);
        return (n, mixed);
    }

    float TrainStep(long step)
    {
        var (rows, _) = NextBatch(step, out var inputs, out var targets);
        return _loop.Model.LanguageModelLoss(inputs, targets, rows, _t);
    }

    public void Dispose() => _pretrain?.Dispose();

    /// <summary>Token-weighted mean loss over the validation dialogues.</summary>
    public IReadOnlyDictionary<string, double> Evaluate()
    {
        if (_valRows == 0) return new Dictionary<string, double>();
        int b = _loop.Options.Batch;
        double sum = 0;
        long tokens = 0;
        for (int start = 0; start < _valRows; start += b)
        {
            int rows = Math.Min(b, _valRows - start);
            var targets = _valTargets.AsSpan(start * _t, rows * _t);
            int valid = 0;
            foreach (int t in targets) if (t >= 0) valid++;
            if (valid == 0) continue;
            sum += _loop.Model.Evaluate(_valInputs.AsSpan(start * _t, rows * _t), targets, rows, _t) * (double)valid;
            tokens += valid;
        }
        return new Dictionary<string, double> { ["val_loss"] = tokens > 0 ? sum / tokens : double.NaN };
    }
}
