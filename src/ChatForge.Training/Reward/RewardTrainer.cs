using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;
using ChatForge.Training.Stages;

namespace ChatForge.Training.Reward;

/// <summary>
/// Trains the reward model on ranked answers: initialised from the SFT model with a zero scalar head; each
/// step takes Batch prompts and, for each, the mean over all C(K,2) pairs of −log σ(r_better − r_worse).
/// Reports held-out pairwise accuracy.
/// </summary>
public sealed class RewardTrainer
{
    public const string Stage = "rm";

    readonly StageLoop _loop;
    readonly RewardScorer _scorer;
    readonly List<List<int[]>> _train, _validation;
    readonly EpochCursor _cursor;

    public StageLoop Loop => _loop;
    public RewardScorer Scorer => _scorer;

    RewardTrainer(StageLoop loop, IChatTokenizer tokenizer, IReadOnlyList<RankingRecord> train, IReadOnlyList<RankingRecord> validation, System.Text.Json.Nodes.JsonObject? state)
    {
        _loop = loop;
        _scorer = new RewardScorer(loop.Model, tokenizer);
        _train = train.Select(Render).ToList();
        _validation = validation.Select(Render).ToList();
        _cursor = new EpochCursor(_train.Count, loop.Options.Batch, loop.Options.Seed);
        _cursor.Restore(state);
    }

    List<int[]> Render(RankingRecord r)
    {
        var conversation = r.Messages.ToChat();
        return r.Answers.Select(a => _scorer.Render(conversation, a)).ToList();
    }

    public static RewardTrainer Start(string sftModelDirectory, string runDirectory, IChatTokenizer tokenizer,
        IReadOnlyList<RankingRecord> train, IReadOnlyList<RankingRecord> validation, StageOptions options, bool likelihood = false)
    {
        if (train.Count == 0) throw new ArgumentException("No rankings to train the reward model on.");
        var model = new Transformer(RewardScorer.FromSft(Checkpoint.LoadParameters(sftModelDirectory), likelihood));
        return new RewardTrainer(StageLoop.Start(Stage, runDirectory, model, options), tokenizer, train, validation, null);
    }

    public static RewardTrainer Resume(string runDirectory, IChatTokenizer tokenizer, IReadOnlyList<RankingRecord> train,
        IReadOnlyList<RankingRecord> validation, StageOptions? options = null)
    {
        var (loop, state) = StageLoop.Resume(Stage, runDirectory, options);
        return new RewardTrainer(loop, tokenizer, train, validation, state);
    }

    public StageSummary Run(CancellationToken cancellationToken = default) =>
        _loop.Run(_ => TrainStep(), Evaluate, _cursor.Save, cancellationToken);

    float TrainStep()
    {
        var groups = _cursor.Next();
        float loss = 0;
        foreach (int g in groups) loss += _scorer.RankingStep(_train[g], 1f / groups.Length).Loss;
        return loss;
    }

    /// <summary>Held-out pairwise accuracy (share of pairs where the better answer scores higher), loss and mean reward.</summary>
    public IReadOnlyDictionary<string, double> Evaluate()
    {
        if (_validation.Count == 0) return new Dictionary<string, double>();
        int correct = 0, pairs = 0;
        double loss = 0, rewardSum = 0;
        var scratch = new float[16];
        foreach (var group in _validation)
        {
            var rewards = _scorer.Score(group);
            if (scratch.Length < rewards.Length) scratch = new float[rewards.Length];
            loss += Alignment.RewardModelLoss.ForwardBackward(rewards, scratch.AsSpan(0, rewards.Length)).Loss;
            rewardSum += rewards[0];
            for (int i = 0; i < rewards.Length; i++)
                for (int j = i + 1; j < rewards.Length; j++) { pairs++; if (rewards[i] > rewards[j]) correct++; }
        }
        return new Dictionary<string, double>
        {
            ["pairwise_accuracy"] = (double)correct / pairs,
            ["val_loss"] = loss / _validation.Count,
            ["mean_best_reward"] = rewardSum / _validation.Count,
        };
    }
}
