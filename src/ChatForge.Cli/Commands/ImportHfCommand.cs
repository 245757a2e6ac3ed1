using System.CommandLine;
using System.Text.Json;
using ChatForge.Engine.Checkpoints;
using ChatForge.Import;

namespace ChatForge.Cli.Commands;

/// <summary>`import hf &lt;folder&gt; --out models/name`: a Hugging Face model folder into a ChatForge model folder.</summary>
public sealed class ImportHfCommand : ICliCommand
{
    public string? Group => "import";

    public Command Build()
    {
        var folder = new Argument<string>("folder") { Description = "Hugging Face model folder (config.json, *.safetensors, tokenizer.json)." };
        var output = new Option<string>("--out") { Description = "ChatForge model folder to write.", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Weights on disk: bf16 or f32.", DefaultValueFactory = _ => "bf16" };
        var maxContext = new Option<int>("--max-context") { Description = "Cap the context length of RoPE models (0 = the config's).", DefaultValueFactory = _ => 0 };
        var command = new Command("hf", $"Import a Hugging Face model ({HfFamily.SupportedText}).") { folder, output, dtype, maxContext };
        command.SetAction(parse =>
        {
            try
            {
                var type = ExportHfCommand.ParseDtype(parse.GetValue(dtype)!);
                var model = ModelFolder.ImportHf(parse.GetValue(folder)!, parse.GetValue(output)!, type, new ImportOptions { MaxContext = parse.GetValue(maxContext) });
                var c = model.Parameters.Layout.Config;
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    architecture = model.Family.Architecture, parameters = model.Parameters.Layout.ParameterCount,
                    layers = c.NumLayers, hidden_size = c.HiddenSize, vocab_size = c.VocabSize, context = c.ContextLength, output = parse.GetValue(output),
                }));
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"import hf: {e.Message}");
                return 2;
            }
        });
        return command;
    }
}
