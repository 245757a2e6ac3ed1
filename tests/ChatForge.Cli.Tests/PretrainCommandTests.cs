using System.CommandLine;
using System.Text.Json.Nodes;
using ChatForge.Cli.Commands;
using ChatForge.Engine.Training;

namespace ChatForge.Cli.Tests;

[Collection("Console")]
public sealed class PretrainCommandTests : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "chatforge-cli-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    static (int ExitCode, string Out, string Error) Invoke(params string[] args)
    {
        var root = new RootCommand();
        root.Subcommands.Add(new PretrainCommand().Build());
        var (oldOut, oldError) = (Console.Out, Console.Error);
        var (output, error) = (new StringWriter(), new StringWriter());
        Console.SetOut(output);
        Console.SetError(error);
        try { return (root.Parse(["pretrain", .. args]).Invoke(), output.ToString(), error.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldError); }
    }

    void WriteData(bool withVal)
    {
        Directory.CreateDirectory(Path.Combine(_root, "data", "train"));
        var tokens = Enumerable.Range(0, 2000).Select(i => (i * 5 + i / 7) % 64).ToArray();
        TokenShard.Write(Path.Combine(_root, "data", "train", "000.bin"), tokens, 64);
        if (!withVal) return;
        Directory.CreateDirectory(Path.Combine(_root, "data", "val"));
        TokenShard.Write(Path.Combine(_root, "data", "val", "000.bin"), tokens[..300], 64);
    }

    [Fact]
    public void Missing_data_fails_before_training_and_names_what_is_missing()
    {
        var (code, _, error) = Invoke("--data", Path.Combine(_root, "data"), "--out", Path.Combine(_root, "run"));
        Assert.Equal(1, code);
        Assert.Contains("Data directory not found", error);

        WriteData(withVal: false);
        (code, _, error) = Invoke("--data", Path.Combine(_root, "data"), "--out", Path.Combine(_root, "run"));
        Assert.Equal(1, code);
        Assert.Contains("'val'", error);
        Assert.False(Directory.Exists(Path.Combine(_root, "run")));

        Directory.CreateDirectory(Path.Combine(_root, "data", "val"));
        (code, _, error) = Invoke("--data", Path.Combine(_root, "data"), "--out", Path.Combine(_root, "run"));
        Assert.Equal(1, code);
        Assert.Contains("No token shards", error);
    }

    [Fact]
    public void Trains_resumes_and_prints_a_json_summary()
    {
        WriteData(withVal: true);
        string[] common = ["--data", Path.Combine(_root, "data"), "--out", Path.Combine(_root, "run"), "--config", "tiny",
            "--batch", "2", "--seq", "16", "--warmup", "1", "--eval-every", "2", "--ckpt-every", "2", "--tokens-per-byte", "0.25"];
        var (code, output, error) = Invoke([.. common, "--steps", "2"]);
        Assert.True(code == 0, error);
        var summary = JsonNode.Parse(output)!;
        Assert.Equal("completed", (string?)summary["status"]);
        Assert.Equal(2, (long)summary["step"]!);
        Assert.NotNull(summary["bits_per_byte"]);
        Assert.Contains("val loss", error);

        (code, output, error) = Invoke("--data", Path.Combine(_root, "data"), "--out", Path.Combine(_root, "run"), "--resume", "--steps", "3");
        Assert.True(code == 0, error);
        summary = JsonNode.Parse(output)!;
        Assert.Equal(2, (long)summary["start_step"]!);
        Assert.Equal(3, (long)summary["step"]!);

        (code, _, error) = Invoke([.. common, "--steps", "4"]);
        Assert.Equal(1, code);
        Assert.Contains("--resume", error);
    }
}

[CollectionDefinition("Console", DisableParallelization = true)]
public sealed class ConsoleCollection;
