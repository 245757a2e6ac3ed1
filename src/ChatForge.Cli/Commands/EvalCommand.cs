using System.CommandLine;
using System.Globalization;
using ChatForge.Engine.Kernels;
using ChatForge.Training.Evaluation;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `chatforge eval`: per-task accuracy on held-out prompts, "I don't know" rate on absent facts, reward-model
/// pairwise accuracy, RM-judged mean score and win rate against a baseline, validation bits per byte.
/// </summary>
public sealed class EvalCommand : ICliCommand
{
    public Command Build()
    {
        var model = new Option<string>("--model") { Description = "Model folder to evaluate", Required = true };
        var baseline = new Option<string?>("--baseline") { Description = "Baseline model folder (the SFT model) for the win rate" };
        var rewardModel = new Option<string?>("--reward-model") { Description = "Reward model folder: pairwise accuracy and judge of the win rate" };
        var data = new Option<string>("--data") { Description = "Data folder (eval/, rankings/, tokens/)", DefaultValueFactory = _ => "data" };
        var json = new Option<bool>("--json") { Description = "Print the full report as JSON" };
        var withAnswers = new Option<bool>("--answers") { Description = "With --json: include every question with the model's answer and its judgement" };
        var maxItems = new Option<int>("--max-items") { Description = "Evaluate at most N held-out questions (0 = all)", DefaultValueFactory = _ => 0 };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Answer length cap", DefaultValueFactory = _ => 64 };
        var tokenizerOption = new Option<string?>("--tokenizer") { Description = "Tokenizer folder (default: the model folder)" };
        var threads = new Option<int>("--threads") { Description = "Kernel threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("eval", "Evaluate a model: task accuracy, honesty on absent facts, RM accuracy and win rate, bits per byte.");
        foreach (var o in new Option[] { model, baseline, rewardModel, data, json, withAnswers, maxItems, maxNew, tokenizerOption, threads }) command.Options.Add(o);
        command.SetAction(parse => StageCli.Guard("eval", () =>
        {
            KernelThreads.Count = parse.GetValue(threads);
            string modelDirectory = parse.GetValue(model)!;
            StageCli.RequireModel(modelDirectory, "--model");
            if (parse.GetValue(baseline) is { } b) StageCli.RequireModel(b, "--baseline");
            if (parse.GetValue(rewardModel) is { } r) StageCli.RequireModel(r, "--reward-model");
            var tokenizer = StageCli.LoadTokenizer(modelDirectory, parse.GetValue(tokenizerOption));
            var (report, skipped) = EvalRunner.Run(modelDirectory, tokenizer, parse.GetValue(data)!, parse.GetValue(rewardModel), parse.GetValue(baseline),
                new EvalOptions { MaxItems = parse.GetValue(maxItems), MaxNewTokens = parse.GetValue(maxNew) });
            foreach (var s in skipped) Console.Error.WriteLine($"eval: skipped: {s}");
            if (parse.GetValue(json)) Console.WriteLine(report.ToJson(includeAnswers: parse.GetValue(withAnswers)).ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            else
                foreach (var (k, v) in report.Metrics()) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{k,-32} {v:0.####}"));
            return 0;
        }));
        return command;
    }
}
