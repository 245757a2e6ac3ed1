using System.CommandLine;
using System.Text;
using System.Text.Json;
using ChatForge.Tokenizer;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `chatforge tokenizer stats`: bytes per token of our tokenizer on held-out English and Chinese text,
/// next to OpenAI's cl100k_base and o200k_base, as JSON.
/// </summary>
public sealed class TokenizerStatsCommand : ICliCommand
{
    public string? Group => "tokenizer";

    public Command Build()
    {
        var tokenizerFolder = new Option<string>("--tokenizer") { Description = "Folder with tokenizer.tiktoken and tokenizer.json.", Required = true };
        var english = new Option<string>("--english") { Description = "Held-out English text (UTF-8).", Required = true };
        var chinese = new Option<string>("--chinese") { Description = "Held-out Chinese text (UTF-8).", Required = true };
        var command = new Command("stats", "Bytes per token on held-out English and Chinese: ours vs cl100k_base and o200k_base (JSON).");
        command.Options.Add(tokenizerFolder);
        command.Options.Add(english);
        command.Options.Add(chinese);
        command.SetAction(parse =>
        {
            try
            {
                var ours = ChatTokenizer.Load(parse.GetValue(tokenizerFolder)!);
                var texts = new[] { ("english", parse.GetValue(english)!), ("chinese", parse.GetValue(chinese)!) }
                    .Select(t => (Name: t.Item1, Path: t.Item2, Text: ReadText(t.Item2))).ToArray();
                var tokenizers = new List<(string Name, int VocabSize, Func<string, int> Count)> { ("ours", ours.VocabSize, t => ours.Encode(t).Length) };
                tokenizers.AddRange(TokenizerComparison.References());

                var results = tokenizers.Select(tok => new
                {
                    tokenizer = tok.Name,
                    vocab_size = tok.VocabSize,
                    texts = texts.ToDictionary(t => t.Name, t =>
                    {
                        var stat = TokenizerComparison.Measure(tok.Name, tok.VocabSize, tok.Count, t.Name, t.Text);
                        return new { bytes = stat.Bytes, tokens = stat.Tokens, bytes_per_token = Math.Round(stat.BytesPerToken, 4) };
                    }),
                }).ToArray();
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    tokenizer_folder = Path.GetFullPath(parse.GetValue(tokenizerFolder)!),
                    texts = texts.ToDictionary(t => t.Name, t => Path.GetFullPath(t.Path)),
                    results,
                }, new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            catch (Exception ex) when (ex is TokenizerFileException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return 1;
            }
        });
        return command;
    }

    private static string ReadText(string path)
    {
        try { return File.ReadAllText(path, new UTF8Encoding(false, throwOnInvalidBytes: false)); }
        catch (FileNotFoundException) { throw new FileNotFoundException($"Text file {path} not found.", path); }
    }
}
