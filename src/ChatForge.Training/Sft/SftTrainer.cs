using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;
using ChatForge.Training.Stages;

namespace ChatForge.Training.Sft;

/// <summary>
/// Supervised fine-tuning: continue the pretrained model on trainer-written dialogues, with the loss on the
/// assistant's tokens only. Dialogues are packed into rows once (in a seeded order); each step takes Batch
/// rows, epoch after epoch, reshuffling rows per epoch.
/// </summary>
public sealed class SftTrainer
{
    public const string Stage = "sft";

    readonly StageLoop _loop;
    readonly int[] _trainInputs, _trainTargets, _valInputs, _valTargets;
    readonly int _trainRows, _valRows, _t;
    readonly EpochCursor _cursor;
    readonly int[] _batchInputs, _batchTargets;

    public StageLoop Loop => _loop;
    public int TrainRows => _trainRows;
    public int Truncated { get; }

    SftTrainer(StageLoop loop, IChatTokenizer tokenizer, IReadOnlyList<SftRecord> train, IReadOnlyList<SftRecord> validation, System.Text.Json.Nodes.JsonObject? state)
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
        _batchInputs = new int[options.Batch * _t];
        _batchTargets = new int[options.Batch * _t];
        loop.Model.EnsureCapacity(options.Batch, _t);
    }

    public static SftTrainer Start(string modelDirectory, string runDirectory, IChatTokenizer tokenizer,
        IReadOnlyList<SftRecord> train, IReadOnlyList<SftRecord> validation, StageOptions options)
    {
        if (train.Count == 0) throw new ArgumentException("No SFT dialogues to train on.");
        var model = new Transformer(Checkpoint.LoadParameters(modelDirectory));
        if (model.Config.VocabSize < tokenizer.VocabSize)
            throw new ArgumentException($"The tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {model.Config.VocabSize}.");
        return new SftTrainer(StageLoop.Start(Stage, runDirectory, model, options), tokenizer, train, validation, null);
    }

    public static SftTrainer Resume(string runDirectory, IChatTokenizer tokenizer, IReadOnlyList<SftRecord> train,
        IReadOnlyList<SftRecord> validation, StageOptions? options = null)
    {
        var (loop, state) = StageLoop.Resume(Stage, runDirectory, options);
        return new SftTrainer(loop, tokenizer, train, validation, state);
    }

    public StageSummary Run(CancellationToken cancellationToken = default) =>
        _loop.Run(_ => TrainStep(), Evaluate, _cursor.Save, cancellationToken);

    float TrainStep()
    {
        var rows = _cursor.Next();
        int b = rows.Length;
        for (int i = 0; i < b; i++)
        {
            _trainInputs.AsSpan(rows[i] * _t, _t).CopyTo(_batchInputs.AsSpan(i * _t));
            _trainTargets.AsSpan(rows[i] * _t, _t).CopyTo(_batchTargets.AsSpan(i * _t));
        }
        return _loop.Model.LanguageModelLoss(_batchInputs.AsSpan(0, b * _t), _batchTargets.AsSpan(0, b * _t), b, _t);
    }

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
