using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ChatForge.Data.Dialogues;
using ChatForge.Engine.Model;
using ChatForge.Engine.Training;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;
using ChatForge.Training.Preference;
using ChatForge.Training.Reward;

namespace ChatForge.Training.Evaluation;

/// <summary>
/// Reward-model quality on held-out rankings: the share of pairs ordered like the ranking, overall, by pair of ranks
/// ("1>2": the best answer above the second; the data pipeline's rankings put the right answer first, a plausible
/// wrong one second, a random wrong one third, an off-topic one last, so the pairs show what the model has to know) and
/// by task.
/// </summary>
public sealed record RewardModelReport(int Rankings, int Pairs, double PairwiseAccuracy,
    IReadOnlyDictionary<string, double>? ByRankPair = null, IReadOnlyDictionary<string, double>? ByTask = null);

/// <summary>
/// A policy's greedy answers against the baseline's (the SFT model), judged by the reward model. Wins, ties and losses
/// are counts of prompts (a tie: the same answer text, or equal scores); WinRate = (wins + ties / 2) / prompts.
/// </summary>
public sealed record ComparisonReport(int Prompts, double MeanPolicyScore, double MeanBaselineScore, double WinRate, int Wins = 0, int Ties = 0, int Losses = 0);

/// <summary>Language-model quality on the pretraining validation shards.</summary>
public sealed record BitsPerByteReport(long Tokens, double Loss, double? TokensPerByte, double? BitsPerByte);

/// <summary>Every evaluation of one model, as printed by `eval --json` and kept per stage in stages.json.</summary>
public sealed record EvalReport
{
    public string? Model { get; init; }
    public AnswerReport? Answers { get; init; }
    public FollowupReport? Followups { get; init; }
    public RewardModelReport? RewardModel { get; init; }
    /// <summary>The held-out rankings ordered by this model's own likelihood of each answer (the judge a reward model must beat).</summary>
    public RewardModelReport? LikelihoodRanking { get; init; }
    public ComparisonReport? VersusBaseline { get; init; }
    public BitsPerByteReport? Validation { get; init; }

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The report as JSON; the per-question answers are left out unless asked for (they dominate the size).</summary>
    public JsonObject ToJson(bool includeAnswers = false)
    {
        var node = JsonSerializer.SerializeToNode(this, Json)!.AsObject();
        if (!includeAnswers && node["answers"] is JsonObject answers)
        {
            answers.Remove("answers");
            if (node["answers"]!["per_task"] is JsonArray perTask)
                foreach (var t in perTask.OfType<JsonObject>())
                    t["accuracy"] = (double)t["correct"]! / Math.Max(1, (int)t["items"]!);
        }
        if (!includeAnswers && node["followups"] is JsonObject followups) followups.Remove("answers");
        return node;
    }

    /// <summary>Flat metrics of a report saved with <see cref="ToJson"/> (stages.json keeps the saved form).</summary>
    public static Dictionary<string, double> Metrics(JsonObject report)
    {
        var m = new Dictionary<string, double>();
        void Put(string name, JsonNode? node) { if (node is JsonValue v && v.TryGetValue(out double d)) m[name] = d; }
        var a = report["answers"];
        Put("heldout_accuracy", a?["held_out_accuracy"]); Put("absent_idk_rate", a?["absent_refusal_rate"]);
        Put("heldout_refusal_rate", a?["held_out_refusal_rate"]); Put("mean_answer_tokens", a?["mean_answer_tokens"]);
        foreach (var t in (a?["per_task"] as JsonArray ?? []).OfType<JsonObject>()) Put($"acc/{t["task"]}/{t["lang"]}", t["accuracy"]);
        var f = report["followups"];
        Put("followup_accuracy", f?["accuracy"]); Put("followup_accuracy_without_context", f?["accuracy_without_context"]);
        foreach (var t in (f?["per_lang"] as JsonArray ?? []).OfType<JsonObject>())
        {
            Put($"followup_accuracy/{t["lang"]}", t["accuracy"]); Put($"followup_accuracy_without_context/{t["lang"]}", t["accuracy_without_context"]);
        }
        foreach (var t in (f?["per_task"] as JsonArray ?? []).OfType<JsonObject>())
        {
            Put($"followup/{t["task"]}/{t["lang"]}", t["accuracy"]); Put($"followup_without_context/{t["task"]}/{t["lang"]}", t["accuracy_without_context"]);
        }
        foreach (var (name, key) in new[] { ("rm", "reward_model"), ("likelihood", "likelihood_ranking") })
        {
            Put($"{name}_pairwise_accuracy", report[key]?["pairwise_accuracy"]);
            foreach (var (pair, value) in report[key]?["by_rank_pair"] as JsonObject ?? []) Put($"{name}_pair/{pair}", value);
        }
        var c = report["versus_baseline"];
        Put("mean_rm_score", c?["mean_policy_score"]); Put("baseline_rm_score", c?["mean_baseline_score"]); Put("win_rate_vs_sft", c?["win_rate"]);
        Put("wins_vs_sft", c?["wins"]); Put("ties_vs_sft", c?["ties"]); Put("losses_vs_sft", c?["losses"]);
        Put("val_loss", report["validation"]?["loss"]); Put("val_bpb", report["validation"]?["bits_per_byte"]);
        return m;
    }

    /// <summary>Flat name → value pairs for stages.json and the report card (read from the saved form, so the two never differ).</summary>
    public Dictionary<string, double> Metrics() => Metrics(ToJson());
}

/// <summary>The evaluations beyond answer accuracy: reward-model ranking, RM-judged win rate, bits per byte.</summary>
public static class ModelEvaluations
{
    /// <summary>Share of all C(K,2) pairs of each held-out ranking that the reward model orders like the ranking.</summary>
    public static RewardModelReport PairwiseAccuracy(RewardScorer scorer, IReadOnlyList<RankingRecord> rankings) =>
        PairwiseAccuracy(rankings, r =>
        {
            var conversation = r.Messages.ToChat();
            return scorer.Score(r.Answers.Select(a => scorer.Render(conversation, a)).ToList());
        });

    /// <summary>
    /// The same pairs ordered by the language model's own mean log-probability per answer token: what the model the reward
    /// model starts from "knows" without any ranking training. A reward model below this judge is not using that knowledge.
    /// </summary>
    public static RewardModelReport LikelihoodAccuracy(ParameterBuffer model, IChatTokenizer tokenizer, IReadOnlyList<RankingRecord> rankings)
    {
        var transformer = new Transformer(model);
        return PairwiseAccuracy(rankings, r =>
        {
            var conversation = r.Messages.ToChat();
            var sequences = r.Answers.Select(a => AnswerSequences.Render(tokenizer, conversation, a, transformer.Config.ContextLength)).ToList();
            var sums = AnswerSequences.LogProbSums(transformer, sequences, tokenizer.StopTokenIds[0]);
            return sums.Select((sum, i) => sum / sequences[i].AnswerMask.Count(m => m)).ToArray();
        });
    }

    static RewardModelReport PairwiseAccuracy(IReadOnlyList<RankingRecord> rankings, Func<RankingRecord, float[]> score)
    {
        int pairs = 0, correct = 0;
        var byPair = new SortedDictionary<string, (int Correct, int Pairs)>(StringComparer.Ordinal);
        var byTask = new SortedDictionary<string, (int Correct, int Pairs)>(StringComparer.Ordinal);
        foreach (var r in rankings)
        {
            var rewards = score(r);
            for (int i = 0; i < rewards.Length; i++)
                for (int j = i + 1; j < rewards.Length; j++)
                {
                    int ok = rewards[i] > rewards[j] ? 1 : 0;
                    pairs++; correct += ok;
                    Count(byPair, $"{i + 1}>{j + 1}", ok);
                    Count(byTask, r.Task, ok);
                }
        }
        return new RewardModelReport(rankings.Count, pairs, pairs == 0 ? 0 : (double)correct / pairs, Shares(byPair), Shares(byTask));

        static void Count(SortedDictionary<string, (int Correct, int Pairs)> counts, string key, int ok)
        {
            var (c, n) = counts.GetValueOrDefault(key);
            counts[key] = (c + ok, n + 1);
        }
        static Dictionary<string, double> Shares(SortedDictionary<string, (int Correct, int Pairs)> counts) =>
            counts.ToDictionary(kv => kv.Key, kv => (double)kv.Value.Correct / kv.Value.Pairs);
    }

    /// <summary>
    /// Greedy answers of the policy and of the baseline to the same prompts, each scored by the reward model;
    /// the policy wins a prompt when its score is higher, a tie (the same answer, or the same score) counts half.
    /// </summary>
    public static ComparisonReport WinRate(ParameterBuffer policy, ParameterBuffer baseline, RewardScorer scorer, IChatTokenizer tokenizer,
        IReadOnlyList<IReadOnlyList<ChatMessage>> prompts, int maxNewTokens = 64)
    {
        if (prompts.Count == 0) return new ComparisonReport(0, 0, 0, 0);
        var policyAnswers = Evaluator.Answer(policy, tokenizer, prompts, maxNewTokens);
        var baselineAnswers = Evaluator.Answer(baseline, tokenizer, prompts, maxNewTokens);
        var policyScores = scorer.Score(prompts.Select((p, i) => scorer.Render(p, policyAnswers[i].Text)).ToList());
        var baselineScores = scorer.Score(prompts.Select((p, i) => scorer.Render(p, baselineAnswers[i].Text)).ToList());
        int wins = 0, ties = 0, losses = 0;
        for (int i = 0; i < prompts.Count; i++)
        {
            // The same text is a tie whatever the scores: the two were scored in different batches.
            if (policyAnswers[i].Text == baselineAnswers[i].Text || policyScores[i] == baselineScores[i]) ties++;
            else if (policyScores[i] > baselineScores[i]) wins++;
            else losses++;
        }
        return new ComparisonReport(prompts.Count, policyScores.Average(), baselineScores.Average(), (wins + 0.5 * ties) / prompts.Count, wins, ties, losses);
    }

    /// <summary>
    /// Mean next-token loss over the validation shards (&lt;tokens&gt;/val/*.bin) in consecutive windows of the
    /// model's context (at most <paramref name="maxTokens"/> tokens), converted to bits per UTF-8 byte with the
    /// tokens/bytes ratio of the validation split in &lt;tokens&gt;/manifest.json.
    /// </summary>
    public static BitsPerByteReport BitsPerByte(Transformer model, string tokensDirectory, long maxTokens = 1 << 16, int batch = 4)
    {
        using var data = PretrainData.Open(tokensDirectory);
        if (data.VocabSize > model.Config.VocabSize)
            throw new InvalidDataException($"{tokensDirectory}: shards use a vocabulary of {data.VocabSize} but the model's vocab_size is {model.Config.VocabSize}.");
        int t = Math.Min(model.Config.ContextLength, 256);
        var inputs = new int[batch * t];
        var targets = new int[batch * t];
        var window = new int[t + 1];
        double sum = 0;
        long tokens = 0;
        int rows = 0;
        void Flush()
        {
            if (rows == 0) return;
            sum += model.Evaluate(inputs.AsSpan(0, rows * t), targets.AsSpan(0, rows * t), rows, t) * (double)rows * t;
            tokens += (long)rows * t;
            rows = 0;
        }
        foreach (var shard in data.Validation)
            for (long start = 0; start + t + 1 <= shard.Count && tokens + (long)(rows + 1) * t <= maxTokens; start += t)
            {
                shard.Read(start, window);
                window.AsSpan(0, t).CopyTo(inputs.AsSpan(rows * t));
                window.AsSpan(1, t).CopyTo(targets.AsSpan(rows * t));
                if (++rows == batch) Flush();
            }
        Flush();
        if (tokens == 0) throw new InvalidDataException($"{tokensDirectory}/val: fewer than {t + 1} tokens, too short to evaluate.");
        double loss = sum / tokens;
        double? ratio = data.TokensPerByte ?? ManifestTokensPerByte(tokensDirectory);
        return new BitsPerByteReport(tokens, loss, ratio, ratio is { } r ? loss / Math.Log(2) * r : null);
    }

    /// <summary>tokens/bytes of the "val" split as recorded by `data tokenize` (manifest.json: splits.val.tokens / bytes).</summary>
    static double? ManifestTokensPerByte(string tokensDirectory)
    {
        string path = Path.Combine(tokensDirectory, "manifest.json");
        if (!File.Exists(path)) return null;
        try
        {
            var val = JsonNode.Parse(File.ReadAllText(path))?["splits"]?["val"];
            if (val is null) return null;
            double bytes = (double)val["bytes"]!, tokens = (double)val["tokens"]!;
            return bytes > 0 ? tokens / bytes : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or NullReferenceException)
        {
            throw new InvalidDataException($"{path}: expected splits.val.tokens and splits.val.bytes ({e.Message}).", e);
        }
    }
}
