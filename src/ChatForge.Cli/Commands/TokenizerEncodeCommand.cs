using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using ChatForge.Tokenizer;

namespace ChatForge.Cli.Commands;

/// <summary>`chatforge tokenizer encode`: shows how a text is cut into tokens (ids and the text of each), as JSON.</summary>
public sealed class TokenizerEncodeCommand : ICliCommand
{
    public string? Group => "tokenizer";

    public Command Build()
    {
        var tokenizerFolder = new Option<string>("--tokenizer") { Description = "Folder with tokenizer.tiktoken and tokenizer.json.", Required = true };
        var text = new Option<string>("--text") { Description = "Text to encode (special-token parsing is off, as for all user text).", Required = true };
        var command = new Command("encode", "Encode a text and show its tokens (JSON).");
        command.Options.Add(tokenizerFolder);
        command.Options.Add(text);
        command.SetAction(parse =>
        {
            try
            {
                var tokenizer = ChatTokenizer.Load(parse.GetValue(tokenizerFolder)!);
                int[] ids = tokenizer.Encode(parse.GetValue(text)!);
                // A token may hold part of a character; its piece then shows the bytes as hex.
                var pieces = ids.Select(id =>
                {
                    var bytes = tokenizer.GetTokenBytes(id);
                    string piece = tokenizer.Decode([id]);
                    return piece.Contains('\uFFFD') ? "0x" + Convert.ToHexString(bytes) : piece;
                }).ToArray();
                Console.WriteLine(JsonSerializer.Serialize(new { count = ids.Length, ids, pieces }, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
                return 0;
            }
            catch (TokenizerFileException ex)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return 1;
            }
        });
        return command;
    }
}
