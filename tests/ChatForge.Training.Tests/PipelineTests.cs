using ChatForge.Data.Dialogues;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;
using ChatForge.Engine.Training;
using ChatForge.Training.Evaluation;
using ChatForge.Training.Formats;
using ChatForge.Training.Ppo;
using ChatForge.Training.Preference;
using ChatForge.Training.Report;
using ChatForge.Training.Reward;
using ChatForge.Training.Stages;

namespace ChatForge.Training.Tests;

public class PpoStageTests
{
    static List<SftRecord> Dialogues => Enumerable.Range(0, 12).Select(i => new SftRecord($"d{i}", i % 3 == 0 ? "arithmetic" : "chat", "en",
        [new("user", $"question {i}"), new("assistant", i % 2 == 0 ? "yes" : "no")])).ToList();

    static (string Sft, string Rm) Models(TempFolder dir)
    {
        string sft = Path.Combine(dir.Path, "sft"), rm = Path.Combine(dir.Path, "rm");
        var model = new Transformer(TinyWorld.Config(context: 64), seed: 41);
        Checkpoint.Save(sft, model.Parameters);
        var rmParameters = RewardScorer.FromSft(model.Parameters);
        var rng = new Random(3);
        var w = rmParameters[rmParameters.Layout.Score!];
        for (int j = 0; j < w.Length; j++) w[j] = (float)(rng.NextDouble() - 0.5);
        Checkpoint.Save(rm, rmParameters);
        return (sft, rm);
    }

    static readonly PpoStageOptions Options = new()
    {
        Iterations = 4, CheckpointEvery = 2,
        Ppo = new PpoOptions { PromptsPerIteration = 3, MaxNewTokens = 5, Epochs = 2, MiniBatch = 2, KlBeta = 0.05f, TargetKl = 1f, ActorLearningRate = 1e-3f, CriticLearningRate = 1e-3f, Seed = 7 },
    };

    [Fact]
    public void Prompts_stop_at_the_last_user_turn_and_carry_gold_answers_for_checkable_tasks()
    {
        var record = new SftRecord("x", "arithmetic", "en", [new("user", "2+2?"), new("assistant", "4"), new("user", "3+3?"), new("assistant", "6")]);
        var prompt = Assert.Single(PpoPrompts.FromSft([record, record with { Task = "chat" }]).Take(1));
        Assert.Equal(3, prompt.Conversation.Count);
        Assert.Equal("3+3?", prompt.Conversation[^1].Content);
        Assert.Equal(["6"], prompt.Gold!);
        Assert.Null(PpoPrompts.FromSft([record with { Task = "chat" }])[0].Gold);
        var worded = new SftRecord("y", "arithmetic", "zh", [new("user", "542 - 550 = ?"), new("assistant", "542 - 550 = -8。")]);
        Assert.Equal(["-8"], PpoPrompts.FromSft([worded])[0].Gold!);
        // A translation reply is one wording of the answer, not the answer: no verifiable reward from it.
        Assert.Null(PpoPrompts.FromSft([worded with { Task = "translate_zh_en", Messages = [new("user", "一英文怎么说？"), new("assistant", "英文是 one。")] }])[0].Gold);
        // Its accepted answers are, when asked for (factGold).
        var translation = new SftRecord("z", "translate_zh_en", "zh", [new("user", "一英文怎么说？"), new("assistant", "英文是 one。")], ["one"]);
        Assert.Null(PpoPrompts.FromSft([translation])[0].Gold);
        Assert.Equal(["one"], PpoPrompts.FromSft([translation], factGold: true)[0].Gold!);
        Assert.Equal(["-8"], PpoPrompts.FromSft([worded], factGold: true)[0].Gold!);
    }

    [Fact]
    public void A_resumed_ppo_run_repeats_the_uninterrupted_one()
    {
        using var dir = new TempFolder();
        var (sft, rm) = Models(dir);
        var prompts = PpoPrompts.FromSft(Dialogues);
        var full = PpoStage.Start(sft, rm, Path.Combine(dir.Path, "full"), TinyWorld.Tokenizer, prompts, Options);
        var fullSummary = full.Run();
        Assert.Equal("completed", fullSummary.Status);
        Assert.Equal(4, fullSummary.History.Count);
        Assert.Equal(4, File.ReadLines(Path.Combine(dir.Path, "full", "metrics.jsonl")).Count());

        var first = PpoStage.Start(sft, rm, Path.Combine(dir.Path, "split"), TinyWorld.Tokenizer, prompts, Options);
        using (var cts = new CancellationTokenSource())
        {
            first.Progress += e => { if (e is PpoIterated { Step: 2 }) cts.Cancel(); };
            Assert.Equal("interrupted", first.Run(cts.Token).Status);
        }
        Assert.True(File.Exists(Path.Combine(dir.Path, "split", "checkpoints", "step-00000002", "critic", Checkpoint.OptimizerFile)));
        var resumed = PpoStage.Resume(Path.Combine(dir.Path, "split"), TinyWorld.Tokenizer, prompts);
        Assert.Equal(2, resumed.Trainer.Iteration);
        var rest = resumed.Run();
        Assert.Equal(2, rest.History.Count);
        for (int i = 0; i < 2; i++)
        {
            var a = fullSummary.History[2 + i];
            var b = rest.History[i];
            Assert.Equal(a.MeanScore, b.MeanScore, 5);
            Assert.Equal(a.PolicyLoss, b.PolicyLoss, 5);
            Assert.Equal(a.ValueLoss, b.ValueLoss, 5);
            Assert.Equal(a.Beta, b.Beta, 6);
        }
        Assert.Equal(full.Trainer.Actor.Parameters.Data, resumed.Trainer.Actor.Parameters.Data);
        Assert.Equal(full.Trainer.Critic.Parameters.Data, resumed.Trainer.Critic.Parameters.Data);
        Assert.Throws<InvalidOperationException>(() => PpoStage.Start(sft, rm, Path.Combine(dir.Path, "split"), TinyWorld.Tokenizer, prompts, Options));
    }

    sealed class ConstantReward(float value) : IRewardFunction
    {
        public float[] Score(IReadOnlyList<Rollout> rollouts) => rollouts.Select(_ => value).ToArray();
    }

    static Rollout Answer(int promptIndex, string text)
    {
        var tok = TinyWorld.Tokenizer;
        var prompt = tok.RenderChat(TinyWorld.Ask("what is 2+2?"), true).Ids;
        return new Rollout { PromptIndex = promptIndex, Tokens = [.. prompt, .. tok.Encode(text), tok.ImEndId], PromptLength = prompt.Length, Finish = FinishReason.Stop };
    }

    [Fact]
    public void Verifiable_reward_adds_plus_or_minus_one_to_the_model_score_only_where_gold_answers_exist()
    {
        var reward = new VerifiableReward(new ConstantReward(0.25f), TinyWorld.Tokenizer) { Gold = [["4", "four"], ["4"], null] };
        var scores = reward.Score([Answer(0, " Four. "), Answer(1, "5"), Answer(2, "4")]);
        Assert.Equal(1.25f, scores[0], 5);
        Assert.Equal(-0.75f, scores[1], 5);
        Assert.Equal(0.25f, scores[2], 5);
    }

    [Fact]
    public void Refusal_reward_pays_refusing_absent_facts_and_charges_refusing_known_ones()
    {
        // Prompts: 0 about a word kept out of the corpus, 1 about a fact in it, 2 unknown to the data, 3 with a gold answer.
        var reward = new VerifiableReward(new ConstantReward(0.25f), TinyWorld.Tokenizer)
        {
            Gold = [null, null, null, ["4"]],
            Answerable = [false, true, null, true],
        };
        var scores = reward.Score([
            Answer(0, "Sorry, I don't know that word."), Answer(0, "That is ChatForge."), Answer(0, "我不认识这个词。"),
            Answer(1, "I'm not sure."), Answer(1, "It is Paris."),
            Answer(2, "I don't know."), Answer(3, "I don't know."), Answer(3, "4")]);
        Assert.Equal([1.25f, -0.75f, 1.25f, -0.75f, 0.25f, 0.25f, -0.75f, 1.25f], scores);
        // Without Answerable (the refusal reward off) only gold answers are checked, as before.
        var plain = new VerifiableReward(new ConstantReward(0.25f), TinyWorld.Tokenizer) { Gold = [null, null] };
        Assert.Equal([0.25f, 0.25f], plain.Score([Answer(0, "That is ChatForge."), Answer(1, "I'm not sure.")]));
    }

    [Fact]
    public void Prompts_know_which_facts_the_data_kept_out()
    {
        SftRecord Ask(string task) => new("x", task, "en", [new("user", "?"), new("assistant", "!")]);
        Assert.False(PpoPrompts.FromSft([Ask("unknown")])[0].Answerable);
        Assert.True(PpoPrompts.FromSft([Ask("capital")])[0].Answerable);
        Assert.True(PpoPrompts.FromSft([Ask("arithmetic")])[0].Answerable);
        Assert.Null(PpoPrompts.FromSft([Ask("greeting")])[0].Answerable);
        var ranking = new RankingRecord("r", "unknown", "en", [new("user", "?")], ["I don't know.", "It is X."]);
        Assert.False(PpoPrompts.FromRankings([ranking])[0].Answerable);
        // Rankings exported by the chat server say nothing about what the corpus holds.
        Assert.Null(PpoPrompts.FromRankings([ranking with { Source = "server" }])[0].Answerable);
    }

    [Fact]
    public void Reward_model_reward_scores_the_rollout_like_the_scorer_scores_the_rendered_answer()
    {
        using var dir = new TempFolder();
        var (_, rm) = Models(dir);
        var scorer = new RewardScorer(new Transformer(Checkpoint.LoadParameters(rm)), TinyWorld.Tokenizer);
        var reward = new RewardModelReward(scorer, TinyWorld.Tokenizer);
        var rollout = Answer(0, "yes");
        float expected = scorer.Score([scorer.Render(TinyWorld.Ask("what is 2+2?"), "yes")])[0];
        Assert.Equal(expected, reward.Score([rollout])[0], 4);
        // An answer cut by the length limit is scored at an appended closing token, like a finished one.
        var cut = new Rollout { PromptIndex = 0, Tokens = rollout.Tokens[..^1], PromptLength = rollout.PromptLength, Finish = FinishReason.Length };
        Assert.Equal(expected, reward.Score([cut])[0], 4);
    }
}

public class EvalAndReportTests
{
    [Fact]
    public void Win_rate_of_a_model_against_itself_is_one_half_and_pairwise_accuracy_counts_every_pair()
    {
        var tok = TinyWorld.Tokenizer;
        var model = new Transformer(TinyWorld.Config(context: 64), seed: 8);
        var rm = RewardScorer.FromSft(model.Parameters);
        var w = rm[rm.Layout.Score!];
        for (int j = 0; j < w.Length; j++) w[j] = j % 2 == 0 ? 0.3f : -0.2f;
        var scorer = new RewardScorer(new Transformer(rm), tok);
        var prompts = Enumerable.Range(0, 3).Select(i => TinyWorld.Ask($"question {i}")).ToList();
        var comparison = ModelEvaluations.WinRate(model.Parameters, model.Parameters, scorer, tok, prompts, maxNewTokens: 4);
        Assert.Equal(0.5, comparison.WinRate, 6);
        Assert.Equal(comparison.MeanPolicyScore, comparison.MeanBaselineScore, 6);

        var rankings = prompts.Select((p, i) => new RankingRecord($"r{i}", "t", "en", [new("user", p[0].Content)], ["Paris", "yes", "no", "question"])).ToList();
        var rmReport = ModelEvaluations.PairwiseAccuracy(scorer, rankings);
        Assert.Equal(18, rmReport.Pairs);
        Assert.InRange(rmReport.PairwiseAccuracy, 0, 1);
        // Reversing every ranking turns each correctly ordered pair into a wrong one (no ties with random weights).
        var reversed = ModelEvaluations.PairwiseAccuracy(scorer, rankings.Select(r => r with { Answers = r.Answers.Reverse().ToList() }).ToList());
        Assert.Equal(1, rmReport.PairwiseAccuracy + reversed.PairwiseAccuracy, 6);
        // Broken down by pair of ranks (six for four answers, each pair seen once per ranking) and by task.
        Assert.Equal(["1>2", "1>3", "1>4", "2>3", "2>4", "3>4"], rmReport.ByRankPair!.Keys.Order());
        Assert.Equal(rmReport.PairwiseAccuracy, rmReport.ByRankPair.Values.Average(), 6);
        Assert.Equal(rmReport.PairwiseAccuracy, Assert.Single(rmReport.ByTask!).Value, 6);
        // Reversed rankings put the last answer first: pair "1>2" of the reversed set is pair "3>4" of the original.
        Assert.Equal(1, rmReport.ByRankPair["3>4"] + reversed.ByRankPair!["1>2"], 6);
    }

    [Fact]
    public void Likelihood_judge_orders_answers_by_mean_log_probability_per_answer_token()
    {
        var tok = TinyWorld.Tokenizer;
        var model = new Transformer(TinyWorld.Config(context: 64), seed: 9);
        var ranking = new RankingRecord("r0", "t", "en", [new("user", "what is 2+2?")], ["four", "yes", "no no no no", "Paris"]);
        var report = ModelEvaluations.LikelihoodAccuracy(model.Parameters, tok, [ranking]);
        // By hand: Σ log p over each answer's tokens (words and closing token) / their count, then count ordered pairs.
        var conversation = ranking.Messages.ToChat();
        var means = ranking.Answers.Select(a =>
        {
            var seq = AnswerSequences.Render(tok, conversation, a, 64);
            return AnswerSequences.LogProbSums(model, [seq], tok.StopTokenIds[0])[0] / seq.AnswerMask.Count(m => m);
        }).ToArray();
        int correct = 0;
        for (int i = 0; i < 4; i++)
            for (int j = i + 1; j < 4; j++)
            {
                Assert.Equal(means[i] > means[j] ? 1.0 : 0.0, report.ByRankPair![$"{i + 1}>{j + 1}"]);
                if (means[i] > means[j]) correct++;
            }
        Assert.Equal(6, report.Pairs);
        Assert.Equal(correct / 6.0, report.PairwiseAccuracy, 6);
        // The flat metrics carry it by pair for the report card.
        var metrics = new EvalReport { LikelihoodRanking = report }.Metrics();
        Assert.Equal(report.PairwiseAccuracy, metrics["likelihood_pairwise_accuracy"], 6);
        Assert.Equal(report.ByRankPair!["1>2"], metrics["likelihood_pair/1>2"], 6);
    }

    [Fact]
    public void Bits_per_byte_uses_the_validation_loss_and_the_manifest_ratio()
    {
        using var dir = new TempFolder();
        var model = new Transformer(TinyWorld.Config(context: 32), seed: 4);
        Directory.CreateDirectory(Path.Combine(dir.Path, "train"));
        Directory.CreateDirectory(Path.Combine(dir.Path, "val"));
        var tokens = Enumerable.Range(0, 200).Select(i => i * 7 % 300).ToArray();
        TokenShard.Write(Path.Combine(dir.Path, "train", "000.bin"), tokens, TinyWorld.Tokenizer.VocabSize);
        TokenShard.Write(Path.Combine(dir.Path, "val", "000.bin"), tokens, TinyWorld.Tokenizer.VocabSize);
        File.WriteAllText(Path.Combine(dir.Path, "manifest.json"), """{"splits":{"val":{"documents":1,"bytes":800,"tokens":200,"shards":[]}}}""");
        var report = ModelEvaluations.BitsPerByte(model, dir.Path, maxTokens: 10_000, batch: 2);
        Assert.Equal(192, report.Tokens); // 6 windows of 32 fit in 200 tokens (each needs 33)
        Assert.Equal(0.25, report.TokensPerByte!.Value, 9);
        Assert.Equal(report.Loss / Math.Log(2) * 0.25, report.BitsPerByte!.Value, 9);
        Assert.InRange(report.Loss, Math.Log(TinyWorld.Tokenizer.VocabSize) - 1, Math.Log(TinyWorld.Tokenizer.VocabSize) + 1);
        var json = new EvalReport { Validation = report }.ToJson().ToJsonString();
        Assert.Contains("\"bits_per_byte\"", json);
    }

    [Fact]
    public void Report_card_has_stage_times_metric_tables_and_png_curves()
    {
        using var dir = new TempFolder();
        var runs = Path.Combine(dir.Path, "runs");
        var stages = StagesFile.Load(runs);
        foreach (var (stage, key, n) in new[] { ("pretrain", "loss", 50), ("sft", "loss", 30), ("rm", "loss", 20), ("ppo", "mean_reward", 12) })
        {
            Directory.CreateDirectory(Path.Combine(runs, stage));
            File.WriteAllLines(Path.Combine(runs, stage, "metrics.jsonl"), Enumerable.Range(1, n).Select(i =>
                $"{{\"step\":{i},\"{key}\":{(key == "loss" ? 4.0 / Math.Sqrt(i) : 0.1 * i).ToString(System.Globalization.CultureInfo.InvariantCulture)},\"kl\":{(0.01 * i).ToString(System.Globalization.CultureInfo.InvariantCulture)}}}"));
            stages.Complete(new StageRecord { Name = stage, Output = Path.Combine(runs, stage), Seconds = 9 * n, Metrics = new() { ["train_loss"] = 1.5 } });
        }
        var reloaded = StagesFile.Load(runs);
        Assert.Equal(4, reloaded.Stages.Count);
        var evaluations = new List<(string, Dictionary<string, double>)>
        {
            ("sft", new() { ["heldout_accuracy"] = 0.4, ["acc/arithmetic/en"] = 0.5, ["acc/arithmetic/zh"] = 0.25 }),
            ("ppo", new() { ["heldout_accuracy"] = 0.5, ["win_rate_vs_sft"] = 0.6, ["acc/arithmetic/en"] = 0.75, ["acc/arithmetic/zh"] = 0.5,
                ["followup_accuracy"] = 0.5, ["followup_accuracy_without_context"] = 0.125, ["followup_accuracy/en"] = 0.75, ["followup_accuracy_without_context/en"] = 0.25,
                ["followup_accuracy/zh"] = 0.25, ["followup_accuracy_without_context/zh"] = 0, ["followup/followup_capital/en"] = 1, ["followup_without_context/followup_capital/en"] = 0 }),
        };
        string model = Path.Combine(dir.Path, "model");
        string path = ReportCard.Write(model, reloaded, evaluations, """{"hidden_size":32}""");
        string md = File.ReadAllText(path);
        Assert.Contains("| pretrain | 7.5 min |", md);
        Assert.Contains("| heldout_accuracy | 0.4 | 0.5 |", md);
        Assert.Contains("| arithmetic | 50% | 25% | 75% | 50% |", md);
        Assert.Contains("![PPO mean reward per iteration](ppo-reward.png)", md);
        Assert.Contains("| ppo | 50% | 13% | 75% | 25% | 25% | 0% |", md);
        Assert.Contains("| followup_capital en | – | 100% / 0% |", md);
        Assert.DoesNotContain("| followup_accuracy/en |", md);
        foreach (var png in new[] { "pretrain-loss.png", "sft-loss.png", "rm-loss.png", "ppo-reward.png", "ppo-kl.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(model, png));
            Assert.True(bytes.Length > 1000 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G', png);
        }
        // Set CHATFORGE_KEEP_REPORT=<folder> to look at the rendered report and plots.
        if (Environment.GetEnvironmentVariable("CHATFORGE_KEEP_REPORT") is { } keep)
        {
            Directory.CreateDirectory(keep);
            foreach (var f in Directory.GetFiles(model)) File.Copy(f, Path.Combine(keep, Path.GetFileName(f)), overwrite: true);
        }
    }
}
