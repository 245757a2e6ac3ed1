using ChatForge.Cli.Commands;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Inference;

namespace ChatForge.Cli.Tests;

/// <summary>
/// The committed default model (models/default, trained by `train --recipe default`) is what a fresh clone serves:
/// it must load as the server and `chat` load it, stay within the repository's size limit, carry its report card,
/// and answer in both languages.
/// </summary>
public sealed class DefaultModelTests
{
    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ChatForge.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No ChatForge.slnx above {AppContext.BaseDirectory}.");
    }

    static string Model => Path.Combine(RepoRoot(), "models", "default");

    [Fact]
    public void Default_model_is_bf16_under_50_MB_with_tokenizer_and_report()
    {
        Assert.True(Directory.Exists(Model), $"{Model} is missing: train it with `train --recipe default`.");
        long bytes = Directory.GetFiles(Model, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.True(bytes <= 50L << 20, $"models/default holds {bytes / 1e6:F1} MB");
        using (var weights = SafeTensorsFile.Open(Path.Combine(Model, Checkpoint.ModelFile)))
            Assert.All(weights.Tensors.Values, t => Assert.Equal(TensorDType.BF16, t.DType));
        Assert.True(File.Exists(Path.Combine(Model, "REPORT.md")));
        var parameters = Checkpoint.LoadParameters(Model);
        Assert.Equal("models/default", ChatCommand.DefaultModel);
        Assert.True(parameters.Layout.ParameterCount > 1_000_000);
    }

    [Fact]
    public async Task Default_model_answers_in_english_and_chinese()
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        string input = "What is 2 + 3?\n北京是哪个国家的首都？\n/exit\n";
        int code = await ChatCommand.RunAsync(Model, new StringReader(input), output, error,
            new ChatCommand.ChatOptions { MaxNewTokens = 32, Temperature = 0, Weights = WeightFormat.Bf16, Seed = 1 }, interactive: false, CancellationToken.None);
        Assert.True(code == 0, error.ToString());
        string text = output.ToString();
        Assert.Contains("5", text);
        Assert.Contains("中国", text);
    }
}
