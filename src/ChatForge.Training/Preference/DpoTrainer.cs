using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;
using ChatForge.Training.Stages;

namespace ChatForge.Training.Preference;

/// <summary>
/// DPO from the same rankings the reward model uses: every ranking yields the pairs (best, each worse answer).
/// The policy starts from the SFT model, which also serves as the frozen reference; the reference's
/// log-probabilities are computed once at the start, so training holds one model.
/// </summary>
public sealed class DpoTrainer
{
    public const string Stage = "dpo";

    sealed record Pair(AnswerSequence Chosen, AnswerSequence Rejected, float ReferenceChosen, float ReferenceRejected);

    readonly StageLoop _loop;
    readonly List<Pair> _train, _validation;
    readonly EpochCursor _cursor;
    readonly int _padId;

    public StageLoop Loop => _loop;

    DpoTrainer(StageLoop loop, Transformer reference, IChatTokenizer tokenizer, IReadOnlyList<RankingRecord> train, IReadOnlyList<RankingRecord> validation, System.Text.Json.Nodes.JsonObject? state)
    {
        _loop = loop;
        _padId = tokenizer.StopTokenIds[0];
        _train = Pairs(reference, tokenizer, train);
        _validation = Pairs(reference, tokenizer, validation);
        if (_train.Count == 0) throw new ArgumentException("No preference pairs to train on.");
        _cursor = new EpochCursor(_train.Count, loop.Options.Batch, loop.Options.Seed);
        _cursor.Restore(state);
    }

    List<Pair> Pairs(Transformer reference, IChatTokenizer tokenizer, IReadOnlyList<RankingRecord> rankings)
    {
        int maxT = reference.Config.ContextLength;
        var pairs = new List<Pair>();
        foreach (var r in rankings)
        {
            var conversation = r.Messages.ToChat();
            var best = AnswerSequences.Render(tokenizer, conversation, r.Answers[0], maxT);
            foreach (var worse in r.Answers.Skip(1))
            {
                var rejected = AnswerSequences.Render(tokenizer, conversation, worse, maxT);
                var sums = AnswerSequences.LogProbSums(reference, [best, rejected], _padId);
                pairs.Add(new Pair(best, rejected, sums[0], sums[1]));
            }
        }
        return pairs;
    }

    public static DpoTrainer Start(string sftModelDirectory, string runDirectory, IChatTokenizer tokenizer,
        IReadOnlyList<RankingRecord> train, IReadOnlyList<RankingRecord> validation, StageOptions options)
    {
        var parameters = Checkpoint.LoadParameters(sftModelDirectory);
        var reference = new Transformer(parameters);
        var policy = new Transformer(Checkpoint.LoadParameters(sftModelDirectory));
        return new DpoTrainer(StageLoop.Start(Stage, runDirectory, policy, options), reference, tokenizer, train, validation, null);
    }

    /// <summary>Resuming needs the reference again: the SFT model the run started from.</summary>
    public static DpoTrainer Resume(string sftModelDirectory, string runDirectory, IChatTokenizer tokenizer,
        IReadOnlyList<RankingRecord> train, IReadOnlyList<RankingRecord> validation, StageOptions? options = null)
    {
        var reference = new Transformer(Checkpoint.LoadParameters(sftModelDirectory));
        var (loop, state) = StageLoop.Resume(Stage, runDirectory, options);
        return new DpoTrainer(loop, reference, tokenizer, train, validation, state);
    }

    public StageSummary Run(CancellationToken cancellationToken = default) =>
        _loop.Run(_ => TrainStep(), Evaluate, _cursor.Save, cancellationToken);

    float TrainStep()
    {
        var batch = _cursor.Next();
        float loss = 0;
        foreach (int i in batch)
        {
            var p = _train[i];
            loss += DpoStep.Run(_loop.Model, p.Chosen, p.Rejected, p.ReferenceChosen, p.ReferenceRejected, _loop.Options.Beta, 1f / batch.Length, _padId).Loss / batch.Length;
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
            var r = Alignment.DpoLoss.ForwardBackward(sums[0], sums[1], p.ReferenceChosen, p.ReferenceRejected, _loop.Options.Beta);
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
