using System.CommandLine;
using ChatForge.Training.Formats;
using ChatForge.Training.Reward;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `chatforge rm`: trains the reward model from the SFT model on ranked answers (data pipeline rankings or rankings
/// exported from the chat server: the same JSONL format), reporting held-out pairwise accuracy. Resumable.
/// </summary>
public sealed class RmCommand : ICliCommand
{
    public Command Build()
    {
        var model = new Option<string>("--model") { Description = "SFT model folder", Required = true };
        var data = new Option<string[]>("--data") { Description = "Rankings JSONL: a folder with train.jsonl (+ val.jsonl), a folder of *.jsonl, or files", Required = true, AllowMultipleArgumentsPerToken = true };
        var val = new Option<string[]?>("--val") { Description = "Held-out rankings JSONL files", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Run folder", Required = true };
        var likelihood = new Option<bool>("--likelihood") { Description = "Add the answer's mean log-probability under the model's own LM head to the score head's reward" };
        var set = new StageCli.StageOptionSet();
        var command = new Command("rm", "Train the reward model (InstructGPT ranking loss over all pairs of each prompt's answers).");
        foreach (var o in new Option[] { model, data, val, output, likelihood }) command.Options.Add(o);
        set.AddTo(command, withSeq: false, withBeta: false);
        command.SetAction(parse => StageCli.Guard("rm", () =>
        {
            string modelDirectory = parse.GetValue(model)!, run = parse.GetValue(output)!;
            StageCli.RequireModel(modelDirectory, "--model");
            var tokenizer = StageCli.LoadTokenizer(modelDirectory, parse.GetValue(set.Tokenizer));
            var (train, validation) = StageCli.ReadData(parse.GetValue(data)!, parse.GetValue(val), Jsonl.ReadRankings, "rankings");
            Console.Error.WriteLine($"rm: {train.Count} training rankings, {validation.Count} held out");
            return StageCli.RunStage("rm", parse, set, run, tokenizer,
                options => { var t = RewardTrainer.Start(modelDirectory, run, tokenizer, train, validation, options, parse.GetValue(likelihood)); return (t.Loop, t.Run); },
                options => { var t = RewardTrainer.Resume(run, tokenizer, train, validation, options); return (t.Loop, t.Run); });
        }));
        return command;
    }
}
