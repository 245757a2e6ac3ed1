using ChatForge.Cli.Commands;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;

namespace ChatForge.Cli.Tests.Commands;

public sealed class GenerateCommandTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "chatforge-generate-" + Guid.NewGuid().ToString("N"));

    public GenerateCommandTests()
    {
        var parameters = new ParameterBuffer(new ParameterLayout(ModelConfig.Gpt2Style(32, 16, 1, 2, 32)));
        var rng = new Random(1);
        for (int i = 0; i < parameters.Data.Length; i++) parameters.Data[i] = (float)(rng.NextDouble() - 0.5);
        Checkpoint.Save(_dir, parameters);
    }

    public void Dispose() { try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } }

    async Task<(int Code, string Output, string Error)> Run(string prompt, int maxNewTokens = 5, string? stop = null, string? dir = null, string weights = "bf16")
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = await GenerateCommand.RunAsync(dir ?? _dir, prompt, maxNewTokens, SamplingOptions.Greedy, stop, weights, output, error, CancellationToken.None);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Streams_the_generated_ids_and_the_finish_reason()
    {
        var (code, output, error) = await Run("1, 2,3", maxNewTokens: 5);
        Assert.Equal(0, code);
        Assert.Empty(error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var ids = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        Assert.Equal(5, ids.Length);
        Assert.All(ids, id => Assert.InRange(id, 0, 31));
        Assert.Equal("[finish: length]", lines[^1].Trim());

        // Stopping on the first greedy token prints nothing but the finish line.
        (code, output, _) = await Run("1,2,3", stop: ids[0].ToString());
        Assert.Equal(0, code);
        Assert.Equal("[finish: stop]", output.Trim());
    }

    [Theory]
    [InlineData("1,x,3", "'x' (item 1) is not a token id")]
    [InlineData("1,-3", "'-3' (item 1)")]
    [InlineData("", "prompt is empty")]
    [InlineData("1,32", "token 1 is 32, outside the vocabulary [0, 32)")]
    public async Task Bad_prompts_fail_with_a_clear_message(string prompt, string message)
    {
        var (code, _, error) = await Run(prompt);
        Assert.Equal(2, code);
        Assert.Contains(message, error);
    }

    [Fact]
    public async Task A_missing_or_corrupt_checkpoint_fails_with_a_clear_message()
    {
        var (code, _, error) = await Run("1", dir: _dir + "-missing");
        Assert.Equal(2, code);
        Assert.Contains("checkpoint folder not found", error);

        File.WriteAllText(Path.Combine(_dir, Checkpoint.ModelFile), "not safetensors");
        (code, _, error) = await Run("1");
        Assert.Equal(2, code);
        Assert.Contains(Checkpoint.ModelFile, error);
    }

    [Fact]
    public async Task Gguf_weights_need_a_gguf_file_and_a_missing_one_is_named()
    {
        var (code, _, error) = await Run("1", weights: "gguf");
        Assert.Equal(2, code);
        Assert.Contains("not loaded from a .gguf file", error);

        (code, _, error) = await Run("1", dir: _dir + "-missing.gguf", weights: "gguf");
        Assert.Equal(2, code);
        Assert.Contains("GGUF file not found", error);
    }

    [Fact]
    public async Task Quantised_formats_fall_back_to_int8_for_rows_that_are_not_whole_blocks()
    {
        foreach (var weights in new[] { "q4_0", "q4_k", "q6_k" })
        {
            var (code, output, error) = await Run("1,2,3", maxNewTokens: 3, weights: weights);
            Assert.True(code == 0, $"{weights}: {error}");
            Assert.EndsWith("[finish: length]", output.Trim());
        }
    }
}
