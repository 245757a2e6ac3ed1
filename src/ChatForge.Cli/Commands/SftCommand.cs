using System.CommandLine;
using ChatForge.Training.Formats;
using ChatForge.Training.Sft;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `chatforge sft`: supervised fine-tuning on ChatML dialogues (loss on assistant tokens, packed rows), resumable;
/// --pretrain-mix f replaces f of the rows by windows of the pretraining token shards.
/// </summary>
public sealed class SftCommand : ICliCommand
{
    public Command Build()
    {
        var model = new Option<string>("--model") { Description = "Pretrained model or checkpoint folder (config.json + model.safetensors)", Required = true };
        var data = new Option<string[]>("--data") { Description = "SFT JSONL: a folder with train.jsonl (+ val.jsonl), a folder of *.jsonl, or files", Required = true, AllowMultipleArgumentsPerToken = true };
        var val = new Option<string[]?>("--val") { Description = "Validation JSONL files (default: val.jsonl next to train.jsonl)", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Run folder (checkpoints, metrics.jsonl, model/)", Required = true };
        var mix = new Option<float>("--pretrain-mix") { Description = "Fraction of rows replaced by pretraining text windows (loss on every token); 0 = none", DefaultValueFactory = _ => 0f };
        var tokens = new Option<string>("--tokens") { Description = "Pretraining token shards folder for --pretrain-mix", DefaultValueFactory = _ => "data/tokens" };
        var set = new StageCli.StageOptionSet();
        var command = new Command("sft", "Supervised fine-tuning on multi-turn dialogues (loss on the assistant's tokens only).");
        foreach (var o in new Option[] { model, data, val, output, mix, tokens }) command.Options.Add(o);
        set.AddTo(command, withSeq: true, withBeta: false);
        command.SetAction(parse => StageCli.Guard("sft", () =>
        {
            string modelDirectory = parse.GetValue(model)!, run = parse.GetValue(output)!;
            StageCli.RequireModel(modelDirectory, "--model");
            var tokenizer = StageCli.LoadTokenizer(modelDirectory, parse.GetValue(set.Tokenizer));
            var (train, validation) = StageCli.ReadData(parse.GetValue(data)!, parse.GetValue(val), Jsonl.ReadSft, "SFT dialogues");
            Console.Error.WriteLine($"sft: {train.Count} training dialogues, {validation.Count} validation");
            return StageCli.RunStage("sft", parse, set, run, tokenizer,
                // A resumed run keeps the fraction it was started with (it decides the data order).
                options => { var t = SftTrainer.Start(modelDirectory, run, tokenizer, train, validation, options with { PretrainMix = parse.GetValue(mix) }, parse.GetValue(tokens)); return (t.Loop, t.Run); },
                options =>
                {
                    var t = SftTrainer.Resume(run, tokenizer, train, validation, options, parse.GetValue(tokens));
                    if (parse.GetResult(mix) is { Implicit: false } && parse.GetValue(mix) != t.Loop.Options.PretrainMix)
                        Console.Error.WriteLine($"sft: --pretrain-mix {parse.GetValue(mix)} ignored: the run resumes with its saved fraction {t.Loop.Options.PretrainMix}.");
                    return (t.Loop, t.Run);
                });
        }));
        return command;
    }
}
