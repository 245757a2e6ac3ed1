using System.CommandLine;
using ChatForge.Data;
using ChatForge.Data.Build;
using ChatForge.Data.Sources;

namespace ChatForge.Cli.Commands;

/// <summary>`chatforge data build`: cleaned pretraining corpus, SFT dialogues, rankings and evaluation sets from the fetched sources.</summary>
public sealed class DataBuildCommand : ICliCommand
{
    public string? Group => "data";

    public Command Build()
    {
        var dataDir = DataFetchCommand.DataDirOption();
        var only = new Option<string?>("--only") { Description = "Build only 'corpus' or 'dialogues' (SFT, rankings, eval)." };
        var command = new Command("build", "Clean, convert to simplified Chinese, deduplicate; write corpus/, sft/, rankings/, eval/ and build-report.json.");
        command.Options.Add(dataDir);
        command.Options.Add(only);
        command.SetAction(parse =>
        {
            var what = parse.GetValue(only);
            if (what is not (null or "corpus" or "dialogues")) { Console.Error.WriteLine($"--only must be 'corpus' or 'dialogues', not '{what}'."); return 2; }
            var paths = new DataPaths(parse.GetValue(dataDir)!);
            if (!File.Exists(paths.Manifest)) { Console.Error.WriteLine($"{paths.Manifest} not found: run `chatforge data fetch` first."); return 1; }
            try
            {
                DataBuild.Run(paths, what is null or "corpus", what is null or "dialogues", Console.WriteLine);
                Console.WriteLine($"report: {paths.BuildReport}");
                return 0;
            }
            catch (DataSourceException e) { Console.Error.WriteLine(e.Message); return 1; }
        });
        return command;
    }
}
