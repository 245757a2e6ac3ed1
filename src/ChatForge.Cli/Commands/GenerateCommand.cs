using System.CommandLine;
using System.Globalization;
using ChatForge.Engine.Inference;

namespace ChatForge.Cli.Commands;

/// <summary>`generate`: continue a prompt of token ids with a checkpoint, printing the ids as they stream.</summary>
public sealed class GenerateCommand : ICliCommand
{
    public Command Build()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder (config.json + model.safetensors), a Hugging Face folder or a .gguf file.", Required = true };
        var promptTokens = new Option<string>("--prompt-tokens") { Description = "Prompt as comma-separated token ids, e.g. \"1,2,3\".", Required = true };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate.", DefaultValueFactory = _ => 64 };
        var temperature = new Option<float>("--temperature") { Description = "0 = greedy.", DefaultValueFactory = _ => 1f };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = no cut).", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "Keep the smallest set of tokens holding this probability mass (1 = no cut).", DefaultValueFactory = _ => 1f };
        var seed = new Option<ulong?>("--seed") { Description = "Seed for repeatable sampling." };
        var stop = new Option<string?>("--stop-tokens") { Description = "Comma-separated token ids that end the answer (not printed)." };
        var weights = new Option<string>("--weights") { Description = $"Matmul weights in memory: {WeightFormats.Names}.", DefaultValueFactory = _ => "auto" };
        var command = new Command("generate", "Generate token ids from a checkpoint, streaming them as they are decoded.")
        {
            model, promptTokens, maxNewTokens, temperature, topK, topP, seed, stop, weights,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetValue(model)!, parse.GetValue(promptTokens)!, parse.GetValue(maxNewTokens),
            new SamplingOptions { Temperature = parse.GetValue(temperature), TopK = parse.GetValue(topK), TopP = parse.GetValue(topP), Seed = parse.GetValue(seed) },
            parse.GetValue(stop), parse.GetValue(weights)!, Console.Out, Console.Error, cancellationToken));
        return command;
    }

    /// <summary>Loads the checkpoint and streams the answer's ids to <paramref name="output"/>; bad input → message on <paramref name="error"/>, exit code 2.</summary>
    internal static async Task<int> RunAsync(string modelDir, string promptTokens, int maxNewTokens, SamplingOptions sampling, string? stopTokens,
        string weights, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        try
        {
            var request = new GenerationRequest
            {
                PromptTokens = ParseIds(promptTokens, "--prompt-tokens"),
                MaxNewTokens = maxNewTokens,
                Sampling = sampling,
                StopTokens = stopTokens is null ? [] : ParseIds(stopTokens, "--stop-tokens"),
            };
            var format = WeightFormats.ParseFor(weights, modelDir);
            if (ModelFiles.IsGguf(modelDir) ? !File.Exists(modelDir) : !Directory.Exists(modelDir))
                throw new FileNotFoundException($"--model: {(ModelFiles.IsGguf(modelDir) ? "GGUF file" : "checkpoint folder")} not found: {modelDir}");
            var inference = ModelFiles.Inference(modelDir, format);
            using var generator = new Generator(inference, new GeneratorOptions { MaxConcurrent = 1 });
            await foreach (var step in generator.GenerateAsync(request, cancellationToken))
            {
                if (step.Finish is { } reason) await output.WriteLineAsync($"\n[finish: {reason.ToString().ToLowerInvariant()}]");
                else await output.WriteAsync(step.TokenId.ToString(CultureInfo.InvariantCulture) + " ");
                await output.FlushAsync(CancellationToken.None);
            }
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or KeyNotFoundException or NotSupportedException)
        {
            await error.WriteLineAsync($"generate: {e.Message}");
            return 2;
        }
    }

    internal static int[] ParseIds(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
                throw new ArgumentException($"{option}: '{parts[i]}' (item {i}) is not a token id (non-negative integer).");
        return ids;
    }
}
