using System.CommandLine;
using ChatForge.Training.Formats;
using ChatForge.Training.Preference;

namespace ChatForge.Cli.Commands;

/// <summary>`chatforge dpo`: Direct Preference Optimization from the SFT model on the rankings' (best, worse) pairs. Resumable.</summary>
public sealed class DpoCommand : ICliCommand
{
    public Command Build()
    {
        var model = new Option<string>("--model") { Description = "SFT model folder (the policy's start and the frozen reference)", Required = true };
        var data = new Option<string[]>("--data") { Description = "Rankings JSONL: a folder with train.jsonl (+ val.jsonl), a folder of *.jsonl, or files", Required = true, AllowMultipleArgumentsPerToken = true };
        var val = new Option<string[]?>("--val") { Description = "Held-out rankings JSONL files", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Run folder", Required = true };
        var unknownRepeat = new Option<int>("--unknown-repeat") { Description = "Times the pairs of each \"unknown\" ranking (refusal first) enter the training set", DefaultValueFactory = _ => 1 };
        var set = new StageCli.StageOptionSet();
        var command = new Command("dpo", "Align the SFT model with DPO on preference pairs (a simpler alternative to RM + PPO).");
        foreach (var o in new Option[] { model, data, val, output, unknownRepeat }) command.Options.Add(o);
        set.AddTo(command, withSeq: false, withBeta: true);
        command.SetAction(parse => StageCli.Guard("dpo", () =>
        {
            string modelDirectory = parse.GetValue(model)!, run = parse.GetValue(output)!;
            StageCli.RequireModel(modelDirectory, "--model");
            var tokenizer = StageCli.LoadTokenizer(modelDirectory, parse.GetValue(set.Tokenizer));
            var (train, validation) = StageCli.ReadData(parse.GetValue(data)!, parse.GetValue(val), Jsonl.ReadRankings, "rankings");
            Console.Error.WriteLine($"dpo: {train.Count} training rankings, {validation.Count} held out");
            return StageCli.RunStage("dpo", parse, set, run, tokenizer,
                options => { var t = DpoTrainer.Start(modelDirectory, run, tokenizer, train, validation, options, parse.GetValue(unknownRepeat)); return (t.Loop, t.Run); },
                options => { var t = DpoTrainer.Resume(modelDirectory, run, tokenizer, train, validation, options); return (t.Loop, t.Run); });
        }));
        return command;
    }
}
