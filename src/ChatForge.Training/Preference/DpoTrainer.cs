using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;
using ChatForge.Training.Stages;

namespace ChatForge.Training.Preference;

/// <summary>
/// DPO from the same rankings the reward model uses: every ranking yields the pairs (best, each worse answer).
/// The policy starts from the SFT model, which also serves as the frozen reference. The reference's
/// log-probabilities of a pair are computed the first time the pair is drawn and cached: a run visits a
/// fraction of the ~90k training pairs, and computing all of them up front cost more than the training itself.
/// Rankings about words and countries the data pipeline kept out of the corpus (task "unknown", refusal first) can be
/// repeated (<c>unknownRepeat</c>): they are 7% of the rankings, and the other 93% rank a refusal below every on-topic
/// attempt, so plain DPO learns not to refuse at all (run v6: "I don't know" to absent words 22.5% → 4.2%; with them
/// four times, 17.5%, docs/pipeline.md). PPO has the verifiable reward for that; DPO only has the pairs.
/// </summary>
public sealed class DpoTrainer
{
    public const string Stage = "dpo";

    /// <summary>Held-out pairs scored at each evaluation (the first ones, the same every time).</summary>
    public const int MaxValidationPairs = 512;

    sealed class Pair(AnswerSequence chosen, AnswerSequence rejected)
    {
        public AnswerSequence Chosen { get; } = chosen;
        public AnswerSequence Rejected { get; } = rejected;
        public (float Chosen, float Rejected)? Reference { get; set; }
    }

    readonly StageLoop _loop;
    readonly Transformer _reference;
    readonly List<Pair> _train, _validation;
    readonly EpochCursor _cursor;
    readonly int _padId;
    readonly int _unknownRepeat;

    public StageLoop Loop => _loop;

    DpoTrainer(StageLoop loop, Transformer reference, IChatTokenizer tokenizer, IReadOnlyList<RankingRecord> train, IReadOnlyList<RankingRecord> validation,
        int unknownRepeat, System.Text.Json.Nodes.JsonObject? state)
    {
        if (unknownRepeat < 1) throw new ArgumentException($"--unknown-repeat must be at least 1, got {unknownRepeat}.");
        _loop = loop;
        _reference = reference;
        _padId = tokenizer.StopTokenIds[0];
        _unknownRepeat = unknownRepeat;
        int maxT = reference.Config.ContextLength;
        _train = Pairs(tokenizer, train, maxT, unknownRepeat).ToList();
        _validation = Pairs(tokenizer, validation, maxT, 1).Take(MaxValidationPairs).ToList();
        if (_train.Count == 0) throw new ArgumentException("No preference pairs to train on.");
        _cursor = new EpochCursor(_train.Count, loop.Options.Batch, loop.Options.Seed);
        _cursor.Restore(state);
    }

    static IEnumerable<Pair> Pairs(IChatTokenizer tokenizer, IReadOnlyList<RankingRecord> rankings, int maxT, int unknownRepeat)
    {
        foreach (var r in rankings)
        {
            var conversation = r.Messages.ToChat();
            var best = AnswerSequences.Render(tokenizer, conversation, r.Answers[0], maxT);
            var worse = r.Answers.Skip(1).Select(a => AnswerSequences.Render(tokenizer, conversation, a, maxT)).ToList();
            int repeat = DialogueBuilder.Answerable(r.Task, r.Source) == false ? unknownRepeat : 1;
            for (int k = 0; k < repeat; k++)
                foreach (var w in worse) yield return new Pair(best, w);
        }
    }

    /// <summary>The frozen reference's log-probabilities of the pair (deterministic, so a resumed run recomputes the same values).</summary>
    (float Chosen, float Rejected) ReferenceOf(Pair p)
    {
        if (p.Reference is { } cached) return cached;
        var sums = AnswerSequences.LogProbSums(_reference, [p.Chosen, p.Rejected], _padId);
        p.Reference = (sums[0], sums[1]);
        return p.Reference.Value;
    }

    public static DpoTrainer Start(string sftModelDirectory, string runDirectory, IChatTokenizer tokenizer,
        IReadOnlyList<RankingRecord> train, IReadOnlyList<RankingRecord> validation, StageOptions options, int unknownRepeat = 1)
    {
        var parameters = Checkpoint.LoadParameters(sftModelDirectory);
        var reference = new Transformer(parameters);
        var policy = new Transformer(Checkpoint.LoadParameters(sftModelDirectory));
        return new DpoTrainer(StageLoop.Start(Stage, runDirectory, policy, options), reference, tokenizer, train, validation, unknownRepeat, null);
    }

    /// <summary>Resuming needs the reference again: the SFT model the run started from.</summary>
    public static DpoTrainer Resume(string sftModelDirectory, string runDirectory, IChatTokenizer tokenizer,
        IReadOnlyList<RankingRecord> train, IReadOnlyList<RankingRecord> validation, StageOptions? options = null)
    {
        var reference = new Transformer(Checkpoint.LoadParameters(sftModelDirectory));
        var (loop, state) = StageLoop.Resume(Stage, runDirectory, options);
        int repeat = state?["unknown_repeat"] is { } saved ? (int)saved : 1; // runs saved before the option: 1
        return new DpoTrainer(loop, reference, tokenizer, train, validation, repeat, state);
    }

    public StageSummary Run(CancellationToken cancellationToken = default) =>
        _loop.Run(_ => TrainStep(), Evaluate, SaveState, cancellationToken);

    System.Text.Json.Nodes.JsonObject SaveState()
    {
        var state = _cursor.Save();
        state["unknown_repeat"] = _unknownRepeat;
        return state;
    }

    float TrainStep()
    {
        var batch = _cursor.Next();
        float loss = 0;
        foreach (int i in batch)
        {
            var p = _train[i];
            var reference = ReferenceOf(p);
            loss += DpoStep.Run(_loop.Model, p.Chosen, p.Rejected, reference.Chosen, reference.Rejected, _loop.Options.Beta, 1f / batch.Length, _padId).Loss / batch.Length;
        }
        return loss;
    }

    /// <summary>Held-out preference accuracy (implicit reward of the better answer higher), loss and reward margin.</summary>
    public IReadOnlyDictionary<string, double> Evaluate()
    {
        if (_validation.Count == 0) return new Dictionary<string, double>();
        int correct = 0;
        double loss = 0, margin = 0;
        foreach (var p in _validation)
        {
            var sums = AnswerSequences.LogProbSums(_loop.Model, [p.Chosen, p.Rejected], _padId);
            var reference = ReferenceOf(p);
            var r = Alignment.DpoLoss.ForwardBackward(sums[0], sums[1], reference.Chosen, reference.Rejected, _loop.Options.Beta);
            loss += r.Loss;
            margin += r.ChosenReward - r.RejectedReward;
            if (r.Correct) correct++;
        }
        return new Dictionary<string, double>
        {
            ["preference_accuracy"] = (double)correct / _validation.Count,
            ["val_loss"] = loss / _validation.Count,
            ["reward_margin"] = margin / _validation.Count,
        };
    }
}
