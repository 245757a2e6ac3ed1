using System.CommandLine;
using System.Text.Json;
using ChatForge.Engine.Checkpoints;
using ChatForge.Import;
using ChatForge.Import.Gguf;

namespace ChatForge.Cli.Commands;

/// <summary>`import gguf &lt;file&gt; --out models/name`: a llama.cpp GGUF model (weights dequantised) into a ChatForge model folder.</summary>
public sealed class ImportGgufCommand : ICliCommand
{
    public string? Group => "import";

    public Command Build()
    {
        var file = new Argument<string>("file") { Description = "GGUF file (llama, mistral or qwen2; F32/F16/BF16/Q8_0/Q4_0/Q4_K/Q6_K tensors)." };
        var output = new Option<string>("--out") { Description = "ChatForge model folder to write.", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Weights on disk: bf16 or f32.", DefaultValueFactory = _ => "bf16" };
        var maxContext = new Option<int>("--max-context") { Description = "Cap the context length (0 = the file's).", DefaultValueFactory = _ => 0 };
        var tokenizer = new Option<string?>("--tokenizer-from") { Description = "Hugging Face folder whose tokenizer files to copy (default: the tokenizer stored in the GGUF file)." };
        var command = new Command("gguf", "Import a GGUF model's weights.") { file, output, dtype, maxContext, tokenizer };
        command.SetAction(parse =>
        {
            string? temp = null;
            try
            {
                // Tokenizer first (from --tokenizer-from, else converted from the GGUF metadata into a temp folder) and
                // loaded once, so a bad tokenizer fails the import before anything is written.
                string? tokenizerFolder = parse.GetValue(tokenizer);
                if (tokenizerFolder is null)
                    using (var gguf = GgufFile.Open(parse.GetValue(file)!))
                        if (gguf.Metadata.ContainsKey("tokenizer.ggml.model"))
                            GgufTokenizer.Write(gguf, tokenizerFolder = temp = Path.Combine(Path.GetTempPath(), "chatforge-gguf-tokenizer-" + Guid.NewGuid().ToString("N")[..8]));
                if (tokenizerFolder is not null) HfTokenizer.Load(tokenizerFolder);
                var parameters = GgufImporter.Load(parse.GetValue(file)!, new ImportOptions { MaxContext = parse.GetValue(maxContext) });
                string outFolder = parse.GetValue(output)!;
                Checkpoint.Save(outFolder, parameters, ExportHfCommand.ParseDtype(parse.GetValue(dtype)!));
                if (tokenizerFolder is not null)
                    foreach (string name in ModelFolder.TokenizerFiles)
                        if (File.Exists(Path.Combine(tokenizerFolder, name))) File.Copy(Path.Combine(tokenizerFolder, name), Path.Combine(outFolder, name), overwrite: true);
                var c = parameters.Layout.Config;
                Console.WriteLine(JsonSerializer.Serialize(new { architecture = c.ModelType, parameters = parameters.Layout.ParameterCount, layers = c.NumLayers, context = c.ContextLength, output = outFolder }));
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"import gguf: {e.Message}");
                return 2;
            }
            finally
            {
                if (temp is not null && Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            }
        });
        return command;
    }
}
