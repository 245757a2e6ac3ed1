using System.CommandLine;
using ChatForge.Data;
using ChatForge.Data.Build;
using ChatForge.Data.Sources;

namespace ChatForge.Cli.Commands;

/// <summary>`chatforge data tokenize --tokenizer &lt;folder&gt;`: corpus text shards → token shards + tokens/manifest.json.</summary>
public sealed class DataTokenizeCommand : ICliCommand
{
    public string? Group => "data";

    public Command Build()
    {
        var dataDir = DataFetchCommand.DataDirOption();
        var tokenizer = new Option<string>("--tokenizer") { Description = "Tokenizer folder (tokenizer.tiktoken + tokenizer.json).", Required = true };
        var shardTokens = new Option<long>("--shard-tokens") { Description = "Tokens per shard file.", DefaultValueFactory = _ => CorpusTokenizer.DefaultShardTokens };
        var command = new Command("tokenize", "Encode the corpus into token shards (documents end with <|endoftext|>); records bytes and tokens per split.");
        command.Options.Add(dataDir);
        command.Options.Add(tokenizer);
        command.Options.Add(shardTokens);
        command.SetAction(parse =>
        {
            var paths = new DataPaths(parse.GetValue(dataDir)!);
            try
            {
                var m = CorpusTokenizer.Run(paths, parse.GetValue(tokenizer)!, Console.WriteLine, parse.GetValue(shardTokens));
                Console.WriteLine($"manifest: {Path.Combine(paths.Tokens, "manifest.json")} (vocab {m.VocabSize})");
                return 0;
            }
            catch (Exception e) when (e is DataSourceException or IOException or InvalidDataException or ArgumentException)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
        });
        return command;
    }
}
