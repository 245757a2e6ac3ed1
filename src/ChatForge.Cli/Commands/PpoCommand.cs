using System.CommandLine;
using System.Text.Json.Nodes;
using ChatForge.Engine.Kernels;
using ChatForge.Training.Formats;
using ChatForge.Training.Ppo;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `chatforge ppo`: PPO from the SFT model against the reward model (plus the exact-match reward on checkable
/// prompts), prompts taken from SFT dialogues (up to the last user turn) and/or rankings. Resumable.
/// </summary>
public sealed class PpoCommand : ICliCommand
{
    public Command Build()
    {
        var model = new Option<string>("--model") { Description = "SFT model folder (actor start and frozen reference)", Required = true };
        var rewardModel = new Option<string>("--reward-model") { Description = "Reward model folder (scores answers; initialises the critic)", Required = true };
        var data = new Option<string[]>("--data") { Description = "SFT JSONL (folder or files): prompts are the dialogues up to their last user turn", AllowMultipleArgumentsPerToken = true };
        var rankings = new Option<string[]>("--rankings") { Description = "Rankings JSONL (folder or files): more prompts", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Run folder", Required = true };
        var iterations = new Option<int>("--iterations") { Description = "PPO iterations (rollout batch + updates)", DefaultValueFactory = _ => 100 };
        var prompts = new Option<int>("--prompts") { Description = "Prompts (answers) per iteration", DefaultValueFactory = _ => 16 };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Answer length cap during rollouts", DefaultValueFactory = _ => 48 };
        var temperature = new Option<float>("--temperature") { Description = "Policy temperature: rollouts sample from softmax(logits / T), and log-probs and KL use the same T", DefaultValueFactory = _ => 1f };
        var epochs = new Option<int>("--epochs") { Description = "PPO epochs per rollout batch", DefaultValueFactory = _ => 2 };
        var mini = new Option<int>("--mini-batch") { Description = "Answers per gradient step", DefaultValueFactory = _ => 4 };
        var beta = new Option<float>("--kl-beta") { Description = "KL penalty β per token", DefaultValueFactory = _ => 0.05f };
        var targetKl = new Option<float?>("--target-kl") { Description = "Adaptive β: KL per answer to aim for (fixed β when omitted)" };
        var klHorizon = new Option<int>("--kl-horizon") { Description = "Adaptive β: answers over which β moves by the clipped KL error (Ziegler et al.: 10000)", DefaultValueFactory = _ => 10_000 };
        var actorLr = new Option<float>("--lr") { Description = "Actor learning rate", DefaultValueFactory = _ => 1e-5f };
        var criticLr = new Option<float>("--critic-lr") { Description = "Critic learning rate", DefaultValueFactory = _ => 5e-5f };
        var noVerifiable = new Option<bool>("--no-verifiable") { Description = "Do not add the ±1 exact-match reward on arithmetic/translation prompts" };
        var refusalReward = new Option<bool>("--refusal-reward") { Description = "With the verifiable reward: ±1 for refusing (or not) where the data knows whether the asked fact exists" };
        var factGold = new Option<bool>("--fact-gold") { Description = "With the verifiable reward: also check fact prompts (capitals, translations, …) against the SFT records' accepted answers" };
        var ckptEvery = new Option<int>("--ckpt-every") { Description = "Checkpoint every N iterations", DefaultValueFactory = _ => 10 };
        var seed = new Option<ulong>("--seed") { Description = "Sampling and prompt-order seed", DefaultValueFactory = _ => 1UL };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out (its saved options; --iterations may extend it)" };
        var tokenizerOption = new Option<string?>("--tokenizer") { Description = "Tokenizer folder (default: the model folder)" };
        var threads = new Option<int>("--threads") { Description = "Kernel threads", DefaultValueFactory = _ => Environment.ProcessorCount };

        var command = new Command("ppo", "Align the SFT model with PPO against the reward model (InstructGPT).");
        foreach (var o in new Option[] { model, rewardModel, data, rankings, output, iterations, prompts, maxNew, temperature, epochs, mini, beta, targetKl, klHorizon, actorLr, criticLr, noVerifiable, refusalReward, factGold, ckptEvery, seed, resume, tokenizerOption, threads })
            command.Options.Add(o);
        command.SetAction(parse => StageCli.Guard("ppo", () =>
        {
            KernelThreads.Count = parse.GetValue(threads);
            string sft = parse.GetValue(model)!, rm = parse.GetValue(rewardModel)!, run = parse.GetValue(output)!;
            StageCli.RequireModel(sft, "--model");
            StageCli.RequireModel(rm, "--reward-model");
            var tokenizer = StageCli.LoadTokenizer(sft, parse.GetValue(tokenizerOption));
            var promptList = new List<PpoPrompt>();
            if (parse.GetValue(data) is { Length: > 0 } sftFiles)
                promptList.AddRange(PpoPrompts.FromSft(StageCli.ReadData(sftFiles, [], Jsonl.ReadSft, "SFT dialogues").Train, parse.GetValue(factGold)));
            if (parse.GetValue(rankings) is { Length: > 0 } rankingFiles)
                promptList.AddRange(PpoPrompts.FromRankings(StageCli.ReadData(rankingFiles, [], Jsonl.ReadRankings, "rankings").Train));
            if (promptList.Count == 0) throw new ArgumentException("ppo: no prompts; pass --data <SFT jsonl> and/or --rankings <rankings jsonl>.");
            Console.Error.WriteLine($"ppo: {promptList.Count} prompts, {promptList.Count(p => p.Gold is not null)} with checkable answers, {promptList.Count(p => p.Answerable == false)} about facts kept out of the data");

            PpoStage stage;
            bool given(Option o) => parse.GetResult(o) is { Implicit: false };
            if (parse.GetValue(resume) && PpoStage.CanResume(run))
            {
                stage = PpoStage.Resume(run, tokenizer, promptList, given(iterations) ? parse.GetValue(iterations) : null);
                Console.Error.WriteLine($"ppo: resuming {run} at iteration {stage.Trainer.Iteration}");
            }
            else
            {
                if (parse.GetValue(resume)) Console.Error.WriteLine($"ppo: no checkpoint in {run}: starting a new run.");
                var options = new PpoStageOptions
                {
                    Iterations = parse.GetValue(iterations), CheckpointEvery = parse.GetValue(ckptEvery), Verifiable = !parse.GetValue(noVerifiable), RefusalReward = parse.GetValue(refusalReward),
                    Ppo = new PpoOptions
                    {
                        PromptsPerIteration = parse.GetValue(prompts), MaxNewTokens = parse.GetValue(maxNew), Temperature = parse.GetValue(temperature), Epochs = parse.GetValue(epochs),
                        MiniBatch = parse.GetValue(mini), KlBeta = parse.GetValue(beta), TargetKl = parse.GetValue(targetKl), KlHorizon = parse.GetValue(klHorizon),
                        ActorLearningRate = parse.GetValue(actorLr), CriticLearningRate = parse.GetValue(criticLr), Seed = parse.GetValue(seed),
                    },
                };
                stage = PpoStage.Start(sft, rm, run, tokenizer, promptList, options);
            }
            var summary = StageCli.Run("ppo", stage.Options.Iterations, stage.Trainer.Iteration, 1, (sink, token) =>
            {
                stage.Progress += sink;
                return stage.Run(token);
            });
            string? exported = summary.Status == "completed" ? StageCli.ExportModel(stage.Trainer.Actor.Parameters, tokenizer, Path.Combine(run, "model")) : null;
            StageCli.PrintSummary(summary, new JsonObject { ["model"] = exported });
            return 0;
        }));
        return command;
    }
}
