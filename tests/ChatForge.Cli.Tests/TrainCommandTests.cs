using System.Text.Json.Nodes;
using ChatForge.Cli.Commands;
using ChatForge.Engine.Checkpoints;

namespace ChatForge.Cli.Tests;

public sealed class TrainCommandTests : IDisposable
{
    readonly PipelineFixture _f = new();
    public void Dispose() => _f.Dispose();

    string[] Args => ["--recipe", "default", "--recipe-file", _f.RecipeFile, "--data-dir", _f.Data, "--out", Path.Combine(_f.Root, "model"), "--runs", Path.Combine(_f.Root, "runs"), "--threads", "1"];

    [Fact]
    public void Recipe_runs_every_stage_writes_the_model_folder_and_skips_completed_stages_on_rerun()
    {
        var (code, output, error) = PipelineFixture.Invoke(new TrainCommand(), Args);
        Assert.True(code == 0, error);
        var summary = JsonNode.Parse(output)!;
        Assert.Equal("completed", (string)summary["status"]!);
        var ran = summary["stages"]!.AsArray().Select(s => ((string)s!["stage"]!, (bool)s["skipped"]!)).ToList();
        Assert.Equal(["data", "tokenizer", "tokenize", "pretrain", "sft", "rm", "ppo", "dpo", "eval", "package"], ran.Select(s => s.Item1));
        Assert.Contains(("data", false), ran);
        Assert.Contains(("ppo", false), ran);

        string model = Path.Combine(_f.Root, "model");
        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.tiktoken", "tokenizer.json", "REPORT.md" })
            Assert.True(File.Exists(Path.Combine(model, file)), file);
        Assert.Equal(Checkpoint.LoadParameters(Path.Combine(_f.Root, "runs", "ppo", "model")).Layout.ParameterCount, Checkpoint.LoadParameters(model).Layout.ParameterCount);
        string report = File.ReadAllText(Path.Combine(model, "REPORT.md"));
        Assert.Contains("| ppo |", report);
        Assert.Contains("win_rate_vs_sft", report);
        Assert.Contains("## Multi-turn follow-ups (answered from context)", report);
        Assert.Contains("followup_accuracy_without_context", report);
        Assert.Empty(Directory.GetFiles(Path.Combine(_f.Root, "runs"), "*.segments.json")); // completed stages keep their time in stages.json
        Assert.True(File.Exists(Path.Combine(model, "pretrain-loss.png")));
        var stages = JsonNode.Parse(File.ReadAllText(Path.Combine(_f.Root, "runs", "stages.json")))!.AsArray();
        Assert.Equal(10, stages.Count);

        // A rerun finds every stage complete and only rewrites the model folder.
        (code, output, error) = PipelineFixture.Invoke(new TrainCommand(), Args);
        Assert.True(code == 0, error);
        var again = JsonNode.Parse(output)!["stages"]!.AsArray().Select(s => ((string)s!["stage"]!, (bool)s["skipped"]!)).ToList();
        Assert.All(again.Where(s => s.Item1 != "package"), s => Assert.True(s.Item2, $"{s.Item1} ran again"));
        Assert.Contains("pretrain: complete", error);

        // Losing a stage's output reruns that stage and every later one.
        Directory.Delete(Path.Combine(_f.Root, "runs", "rm", "model"), recursive: true);
        (code, output, error) = PipelineFixture.Invoke(new TrainCommand(), Args);
        Assert.True(code == 0, error);
        var third = JsonNode.Parse(output)!["stages"]!.AsArray().ToDictionary(s => (string)s!["stage"]!, s => (bool)s!["skipped"]!);
        Assert.True(third["sft"]);
        Assert.False(third["rm"]);
        Assert.False(third["ppo"]);
    }

    [Fact]
    public void Unknown_recipe_and_bad_recipe_file_are_clear_errors()
    {
        var (code, _, error) = PipelineFixture.Invoke(new TrainCommand(), "--recipe", "huge", "--runs", Path.Combine(_f.Root, "runs"));
        Assert.Equal(1, code);
        Assert.Contains("--recipe 'huge' is unknown", error);
        File.WriteAllText(_f.RecipeFile, """{"layerz": 3}""");
        (code, _, error) = PipelineFixture.Invoke(new TrainCommand(), Args);
        Assert.Equal(1, code);
        Assert.Contains(_f.RecipeFile, error);
    }
}
