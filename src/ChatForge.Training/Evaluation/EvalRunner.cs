using DataPaths = ChatForge.Data.DataPaths;
using EvalRecord = ChatForge.Data.Dialogues.EvalRecord;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;
using ChatForge.Training.Reward;

namespace ChatForge.Training.Evaluation;

public sealed record EvalOptions
{
    public int MaxNewTokens { get; init; } = 64;
    /// <summary>At most this many held-out questions (0 = all), stratified over task and language; a quarter as many absent and follow-up ones.</summary>
    public int MaxItems { get; init; }
    /// <summary>Prompts for the RM-judged comparison against the baseline.</summary>
    public int ComparisonPrompts { get; init; } = 64;
    public long BitsPerByteTokens { get; init; } = 1 << 16;
}

/// <summary>
/// Evaluates one model folder on a data folder (the data pipeline's layout): answers to eval/heldout.jsonl and
/// eval/absent.jsonl, the two-turn eval/followup.jsonl with and without its first turn; with a reward model, its pairwise accuracy on rankings/val.jsonl and, with a baseline,
/// the RM-judged win rate; bits per byte on tokens/val when present. Parts whose files are absent are skipped,
/// and the list of what was skipped is returned so callers can say so.
/// </summary>
public static class EvalRunner
{
    public static (EvalReport Report, List<string> Skipped) Run(string modelDirectory, IChatTokenizer tokenizer, string dataDirectory,
        string? rewardModelDirectory = null, string? baselineDirectory = null, EvalOptions? options = null)
    {
        options ??= new EvalOptions();
        if (!Directory.Exists(dataDirectory)) throw new DirectoryNotFoundException($"--data {dataDirectory}: folder not found.");
        var paths = new DataPaths(dataDirectory);
        var skipped = new List<string>();
        var model = Checkpoint.LoadParameters(modelDirectory);

        var items = new List<EvalRecord>();
        foreach (var name in new[] { "heldout.jsonl", "absent.jsonl" })
        {
            string path = Path.Combine(paths.Eval, name);
            if (File.Exists(path)) items.AddRange(Jsonl.ReadEval(path));
            else skipped.Add($"{path} not found");
        }
        items.AddRange(ArithmeticItems(Path.Combine(paths.Sft, "val.jsonl")));
        if (options.MaxItems > 0) items = Stratified(items.Where(i => i.Set != "absent").ToList(), options.MaxItems)
            .Concat(items.Where(i => i.Set == "absent").Take(Math.Max(1, options.MaxItems / 4))).ToList();
        AnswerReport? answers = items.Count > 0 ? Evaluator.Run(model, tokenizer, items, options.MaxNewTokens) : null;

        FollowupReport? followups = null;
        string followupPath = Path.Combine(paths.Eval, "followup.jsonl");
        if (File.Exists(followupPath))
        {
            var followupItems = Jsonl.ReadEval(followupPath).Where(i => i.Set == "followup").ToList();
            if (options.MaxItems > 0) followupItems = Stratified(followupItems, Math.Max(1, options.MaxItems / 4));
            if (followupItems.Count > 0) followups = FollowupEvaluator.Run(model, tokenizer, followupItems, options.MaxNewTokens);
        }
        else skipped.Add($"{followupPath} not found: no follow-up accuracy (rerun `data build --only dialogues`)");

        string rankingsPath = Path.Combine(paths.Rankings, "val.jsonl");
        RewardModelReport? likelihood = File.Exists(rankingsPath) ? ModelEvaluations.LikelihoodAccuracy(model, tokenizer, Jsonl.ReadRankings(rankingsPath)) : null;

        RewardModelReport? rmReport = null;
        ComparisonReport? comparison = null;
        if (rewardModelDirectory is not null)
        {
            var scorer = new RewardScorer(new Transformer(Checkpoint.LoadParameters(rewardModelDirectory)), tokenizer);
            if (File.Exists(rankingsPath)) rmReport = ModelEvaluations.PairwiseAccuracy(scorer, Jsonl.ReadRankings(rankingsPath));
            else skipped.Add($"{rankingsPath} not found: no RM pairwise accuracy");
            if (baselineDirectory is not null)
            {
                var prompts = items.Where(i => i.Set == "heldout").Take(options.ComparisonPrompts).Select(i => i.Messages.ToChat()).ToList();
                comparison = ModelEvaluations.WinRate(model, Checkpoint.LoadParameters(baselineDirectory), scorer, tokenizer, prompts, options.MaxNewTokens);
            }
        }
        else if (baselineDirectory is not null) skipped.Add("--baseline needs --reward-model to judge the answers");

        BitsPerByteReport? bpb = null;
        if (Directory.Exists(Path.Combine(paths.Tokens, "val")))
            bpb = ModelEvaluations.BitsPerByte(new Transformer(model), paths.Tokens, options.BitsPerByteTokens);
        else skipped.Add($"{Path.Combine(paths.Tokens, "val")} not found: no bits per byte");

        return (new EvalReport { Model = Path.GetFullPath(modelDirectory), Answers = answers, Followups = followups, RewardModel = rmReport, LikelihoodRanking = likelihood, VersusBaseline = comparison, Validation = bpb }, skipped);
    }

    /// <summary>
    /// Arithmetic questions of the SFT validation dialogues (never trained on), judged on their result: eval/heldout.jsonl
    /// has no arithmetic, the one task PPO's verifiable reward can check on any prompt.
    /// </summary>
    static IEnumerable<EvalRecord> ArithmeticItems(string sftValidation)
    {
        if (!File.Exists(sftValidation)) yield break;
        foreach (var r in Jsonl.ReadSft(sftValidation).Where(r => r.Task == "arithmetic" && r.Messages.Count >= 2 && r.Messages[^1].Role == "assistant"))
            if (AnswerCheck.LastInteger(r.Messages[^1].Content) is { } result)
                yield return new EvalRecord(r.Id, r.Task, r.Lang, "heldout", r.Messages.Take(r.Messages.Count - 1).ToList(), [result]);
    }

    /// <summary>At most <paramref name="max"/> items taken round-robin over (task, language) in file order, so a cap keeps every task.</summary>
    public static List<EvalRecord> Stratified(IReadOnlyList<EvalRecord> items, int max)
    {
        var queues = items.GroupBy(i => (i.Task, i.Lang)).Select(g => new Queue<EvalRecord>(g)).ToList();
        var taken = new List<EvalRecord>();
        while (taken.Count < max && queues.Any(q => q.Count > 0))
            foreach (var q in queues)
                if (taken.Count < max && q.Count > 0) taken.Add(q.Dequeue());
        return taken;
    }
}
