using System.CommandLine;
using System.Text.Json;
using ChatForge.Cli;

namespace ChatForge.Cli.Tests;

/// <summary>A tiny data folder in the data pipeline's layout and a recipe with tiny sizes, so the whole pipeline runs in seconds.</summary>
public sealed class PipelineFixture : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "chatforge-pipeline-" + Guid.NewGuid().ToString("N"));
    public string Data => Path.Combine(Root, "data");
    public string RecipeFile => Path.Combine(Root, "recipe.json");

    static readonly string[] Countries = ["France", "Spain", "Italy", "Japan", "China", "Egypt", "Peru", "Chile"];
    static readonly string[] Capitals = ["Paris", "Madrid", "Rome", "Tokyo", "Beijing", "Cairo", "Lima", "Santiago"];

    public PipelineFixture()
    {
        Directory.CreateDirectory(Root);
        var docs = Enumerable.Range(0, 120).Select(i => $"The capital of {Countries[i % 8]} is {Capitals[i % 8]}. {i % 9} plus {i % 7} is {i % 9 + i % 7}. 法国的首都是巴黎。").ToList();
        Write(Path.Combine(Data, "corpus", "train", "000.txt"), string.Join("\n\n", docs.Take(100)));
        Write(Path.Combine(Data, "corpus", "val", "000.txt"), string.Join("\n\n", docs.Skip(100)));
        object Msg(string role, string content) => new { role, content };
        object Sft(int i) => new { id = $"s{i}", task = i % 2 == 0 ? "capital" : "arithmetic", lang = "en",
            messages = i % 2 == 0 ? new[] { Msg("user", $"What is the capital of {Countries[i % 8]}?"), Msg("assistant", Capitals[i % 8]) }
                                  : new[] { Msg("user", $"What is {i % 9} plus {i % 7}?"), Msg("assistant", $"{i % 9 + i % 7}") } };
        WriteJsonl(Path.Combine(Data, "sft", "train.jsonl"), Enumerable.Range(0, 24).Select(Sft));
        WriteJsonl(Path.Combine(Data, "sft", "val.jsonl"), Enumerable.Range(24, 4).Select(Sft));
        object Ranking(int i) => new { id = $"r{i}", task = "capital", lang = "en", messages = new[] { Msg("user", $"What is the capital of {Countries[i % 8]}?") },
            answers = new[] { Capitals[i % 8], Capitals[(i + 1) % 8], "I like trains.", "" + i } };
        WriteJsonl(Path.Combine(Data, "rankings", "train.jsonl"), Enumerable.Range(0, 12).Select(Ranking));
        WriteJsonl(Path.Combine(Data, "rankings", "val.jsonl"), Enumerable.Range(12, 3).Select(Ranking));
        WriteJsonl(Path.Combine(Data, "eval", "heldout.jsonl"), Enumerable.Range(0, 3).Select(i => new { id = $"e{i}", task = "capital", lang = i == 0 ? "zh" : "en", set = "heldout",
            messages = new[] { Msg("user", $"What is the capital of {Countries[i]}?") }, answers = new[] { Capitals[i] } }));
        WriteJsonl(Path.Combine(Data, "eval", "absent.jsonl"), [new { id = "a0", task = "capital", lang = "en", set = "absent",
            messages = new[] { Msg("user", "What is the capital of Atlantis?") }, answers = Array.Empty<string>() }]);
        WriteJsonl(Path.Combine(Data, "eval", "followup.jsonl"), Enumerable.Range(0, 2).Select(i => new { id = $"f{i}", task = "followup_capital", lang = "en", set = "followup",
            messages = new[] { Msg("user", $"Which country is {Countries[i]}?"), Msg("assistant", $"{Countries[i]} is a country."), Msg("user", "And its capital?") }, answers = new[] { Capitals[i] } }));
        File.WriteAllText(RecipeFile, """
            {"vocab_size": 320, "hidden_size": 32, "layers": 1, "heads": 2, "context_length": 64,
             "pretrain_steps": 4, "pretrain_batch": 2, "pretrain_seq": 32, "pretrain_warmup": 1, "pretrain_eval_every": 2, "pretrain_checkpoint_every": 2,
             "sft_steps": 3, "sft_batch": 2, "sft_seq": 64, "rm_steps": 3, "rm_batch": 2,
             "ppo_iterations": 2, "ppo_prompts": 2, "ppo_max_new_tokens": 4, "dpo_steps": 2, "dpo_batch": 2,
             "eval_every": 2, "checkpoint_every": 2, "eval_max_items": 3, "eval_max_new_tokens": 4}
            """);
    }

    static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    static void WriteJsonl<T>(string path, IEnumerable<T> records) => Write(path, string.Join("\n", records.Select(r => JsonSerializer.Serialize(r))) + "\n");

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }

    /// <summary>Runs one command of the tool (found like Program.cs finds them) with captured stdout and stderr.</summary>
    public static (int ExitCode, string Out, string Error) Invoke(ICliCommand command, params string[] args)
    {
        var root = new RootCommand();
        var built = command.Build();
        root.Subcommands.Add(built);
        var (oldOut, oldError) = (Console.Out, Console.Error);
        var (output, error) = (new StringWriter(), new StringWriter());
        Console.SetOut(output);
        Console.SetError(error);
        try { return (root.Parse([built.Name, .. args]).Invoke(), output.ToString(), error.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldError); }
    }
}
