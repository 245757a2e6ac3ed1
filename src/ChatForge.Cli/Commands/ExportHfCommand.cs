using System.CommandLine;
using ChatForge.Engine.Checkpoints;
using ChatForge.Import;

namespace ChatForge.Cli.Commands;

/// <summary>`export hf &lt;model&gt; &lt;folder&gt;`: a ChatForge model in its family's Hugging Face layout.</summary>
public sealed class ExportHfCommand : ICliCommand
{
    public string? Group => "export";

    public Command Build()
    {
        var model = new Argument<string>("model") { Description = "ChatForge model folder (config.json + model.safetensors)." };
        var folder = new Argument<string>("folder") { Description = "Hugging Face folder to write." };
        var dtype = new Option<string>("--dtype") { Description = "Weights on disk: bf16 or f32.", DefaultValueFactory = _ => "bf16" };
        var command = new Command("hf", "Export a model for transformers, vLLM and llama.cpp's converter (config.json, safetensors, tokenizer).") { model, folder, dtype };
        command.SetAction(parse =>
        {
            try
            {
                var family = ModelFolder.ExportHf(parse.GetValue(model)!, parse.GetValue(folder)!, ParseDtype(parse.GetValue(dtype)!));
                Console.WriteLine($"{{\"architecture\": \"{family.Architecture}\", \"output\": \"{parse.GetValue(folder)}\"}}");
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"export hf: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    internal static TensorDType ParseDtype(string text) => text switch
    {
        "bf16" => TensorDType.BF16,
        "f32" => TensorDType.F32,
        _ => throw new ArgumentException($"--dtype: unknown '{text}' (expected bf16 or f32)."),
    };
}
