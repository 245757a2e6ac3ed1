using System.Text.Json.Nodes;
using ChatForge.Cli.Commands;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;

namespace ChatForge.Cli.Tests;

public sealed class StageCommandTests : IDisposable
{
    readonly PipelineFixture _f = new();
    readonly string _model;

    public StageCommandTests()
    {
        _model = Path.Combine(_f.Root, "base");
        var docs = File.ReadAllText(Path.Combine(_f.Data, "corpus", "train", "000.txt")).Split("\n\n");
        var tokenizer = BpeTrainer.Train(docs, new BpeTrainerOptions { VocabSize = 320, Threads = 1 }).ToTokenizer();
        Checkpoint.Save(_model, new Transformer(ModelConfig.Gpt2Style(tokenizer.VocabSize, dModel: 32, layers: 1, heads: 2, context: 64), seed: 3).Parameters);
        tokenizer.Save(_model);
    }

    public void Dispose() => _f.Dispose();

    [Fact]
    public void Sft_pretrain_mix_reads_the_token_shards_and_resumes_with_the_saved_fraction()
    {
        string tokens = Path.Combine(_f.Root, "tokens"), run = Path.Combine(_f.Root, "sft-mix");
        foreach (var split in new[] { "train", "val" })
        {
            Directory.CreateDirectory(Path.Combine(tokens, split));
            ChatForge.Engine.Training.TokenShard.Write(Path.Combine(tokens, split, "000.bin"), Enumerable.Range(0, 500).Select(i => i % 300).ToArray(), 320);
        }
        string[] common = ["--model", _model, "--data", Path.Combine(_f.Data, "sft"), "--out", run, "--batch", "2", "--seq", "64", "--threads", "1", "--warmup", "1"];
        var (code, _, error) = PipelineFixture.Invoke(new SftCommand(), [.. common, "--steps", "2", "--pretrain-mix", "0.5", "--tokens", Path.Combine(_f.Root, "missing")]);
        Assert.Equal(1, code);
        Assert.Contains("missing", error);
        (code, _, error) = PipelineFixture.Invoke(new SftCommand(), [.. common, "--steps", "2", "--pretrain-mix", "1.5", "--tokens", tokens]);
        Assert.Equal(1, code);
        Assert.Contains("--pretrain-mix must be in [0, 1)", error);

        (code, var output, error) = PipelineFixture.Invoke(new SftCommand(), [.. common, "--steps", "2", "--pretrain-mix", "0.5", "--tokens", tokens]);
        Assert.True(code == 0, error);
        (code, output, error) = PipelineFixture.Invoke(new SftCommand(), [.. common, "--resume", "--steps", "4", "--tokens", tokens, "--pretrain-mix", "0.25"]);
        Assert.True(code == 0, error);
        Assert.Contains("--pretrain-mix 0.25 ignored", error);
        Assert.Equal(4, (int)JsonNode.Parse(output)!["step"]!);
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(Checkpoint.FindLatest(Path.Combine(run, "checkpoints"))!, Checkpoint.StateFile)))!;
        Assert.Equal(0.5, (double)state["extra"]!["options"]!["pretrain_mix"]!, 6);
        Assert.Equal(4, (long)state["extra"]!["stage_state"]!["pretrain_position"]!); // one window in each of the 4 steps of 2 rows
    }

    [Fact]
    public void Sft_trains_exports_a_model_folder_and_resumes_with_more_steps()
    {
        string run = Path.Combine(_f.Root, "sft");
        string[] common = ["--model", _model, "--data", Path.Combine(_f.Data, "sft"), "--out", run, "--batch", "2", "--seq", "64", "--threads", "1", "--warmup", "1"];
        var (code, output, error) = PipelineFixture.Invoke(new SftCommand(), [.. common, "--steps", "3"]);
        Assert.True(code == 0, error);
        var summary = JsonNode.Parse(output)!;
        Assert.Equal("completed", (string)summary["status"]!);
        Assert.Equal(3, (int)summary["step"]!);
        Assert.NotNull(summary["metrics"]!["val_loss"]);
        Assert.True(File.Exists(Path.Combine(run, "model", "tokenizer.tiktoken")));
        Assert.Contains("sft step 1/3", error);

        (code, _, error) = PipelineFixture.Invoke(new SftCommand(), [.. common, "--steps", "3"]);
        Assert.Equal(1, code);
        Assert.Contains("--resume", error);

        (code, output, error) = PipelineFixture.Invoke(new SftCommand(), [.. common, "--resume", "--steps", "5"]);
        Assert.True(code == 0, error);
        Assert.Equal(3, (int)JsonNode.Parse(output)!["start_step"]!);
        Assert.Equal(5, (int)JsonNode.Parse(output)!["step"]!);

        // The exported SFT model feeds rm, dpo, ppo and eval.
        string sft = Path.Combine(run, "model"), rm = Path.Combine(_f.Root, "rm");
        (code, output, error) = PipelineFixture.Invoke(new RmCommand(), "--model", sft, "--data", Path.Combine(_f.Data, "rankings"), "--out", rm, "--steps", "2", "--batch", "2", "--threads", "1");
        Assert.True(code == 0, error);
        Assert.NotNull(JsonNode.Parse(output)!["metrics"]!["pairwise_accuracy"]);
        (code, output, error) = PipelineFixture.Invoke(new DpoCommand(), "--model", sft, "--data", Path.Combine(_f.Data, "rankings"), "--out", Path.Combine(_f.Root, "dpo"), "--steps", "2", "--batch", "2", "--threads", "1");
        Assert.True(code == 0, error);
        (code, output, error) = PipelineFixture.Invoke(new PpoCommand(), "--model", sft, "--reward-model", Path.Combine(rm, "model"), "--data", Path.Combine(_f.Data, "sft"),
            "--out", Path.Combine(_f.Root, "ppo"), "--iterations", "2", "--prompts", "2", "--max-new-tokens", "4", "--threads", "1");
        Assert.True(code == 0, error);
        Assert.Contains("ppo iteration 2/2 | reward", error);
        Assert.Equal(2, (int)JsonNode.Parse(output)!["iteration"]!);
        (code, output, error) = PipelineFixture.Invoke(new PpoCommand(), "--model", sft, "--reward-model", Path.Combine(rm, "model"), "--data", Path.Combine(_f.Data, "sft"),
            "--out", Path.Combine(_f.Root, "ppo"), "--iterations", "3", "--resume", "--threads", "1");
        Assert.True(code == 0, error);
        Assert.Equal(2, (int)JsonNode.Parse(output)!["start_iteration"]!);

        (code, output, error) = PipelineFixture.Invoke(new EvalCommand(), "--model", Path.Combine(_f.Root, "ppo", "model"), "--baseline", sft, "--reward-model", Path.Combine(rm, "model"),
            "--data", _f.Data, "--json", "--max-new-tokens", "4", "--threads", "1");
        Assert.True(code == 0, error);
        var report = JsonNode.Parse(output)!;
        Assert.NotNull(report["answers"]!["per_task"]);
        Assert.InRange((double)report["versus_baseline"]!["win_rate"]!, 0, 1);
        Assert.Equal(2, (int)report["followups"]!["items"]!);
        Assert.InRange((double)report["followups"]!["accuracy_without_context"]!, 0, 1);
        var versus = report["versus_baseline"]!;
        Assert.Equal((int)versus["prompts"]!, (int)versus["wins"]! + (int)versus["ties"]! + (int)versus["losses"]!);
        Assert.InRange((double)report["reward_model"]!["pairwise_accuracy"]!, 0, 1);
        Assert.Contains("tokens", error); // no tokens/val in this data folder: bits per byte is reported as skipped
    }

    [Fact]
    public void Missing_model_folder_malformed_jsonl_and_missing_data_are_clear_errors()
    {
        var (code, _, error) = PipelineFixture.Invoke(new SftCommand(), "--model", Path.Combine(_f.Root, "nope"), "--data", Path.Combine(_f.Data, "sft"), "--out", Path.Combine(_f.Root, "x"));
        Assert.Equal(1, code);
        Assert.Contains("nope: folder not found", error);

        string bad = Path.Combine(_f.Root, "bad.jsonl");
        File.WriteAllText(bad, """{"id":"a","task":"t","lang":"en","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}""" + "\n{not json\n");
        (code, _, error) = PipelineFixture.Invoke(new SftCommand(), "--model", _model, "--data", bad, "--out", Path.Combine(_f.Root, "x"));
        Assert.Equal(1, code);
        Assert.Contains($"{bad}:2: malformed JSON", error);

        File.WriteAllText(bad, """{"id":"a","task":"t","lang":"en","messages":[{"role":"user","content":"hi"}],"answers":["only one"]}""" + "\n");
        (code, _, error) = PipelineFixture.Invoke(new RmCommand(), "--model", _model, "--data", bad, "--out", Path.Combine(_f.Root, "x"));
        Assert.Equal(1, code);
        Assert.Contains($"{bad}:1: a ranking needs at least 2 answers", error);

        (code, _, error) = PipelineFixture.Invoke(new SftCommand(), "--model", _model, "--data", Path.Combine(_f.Root, "missing-dir"), "--out", Path.Combine(_f.Root, "x"));
        Assert.Equal(1, code);
        Assert.Contains("missing-dir: no such file or folder", error);

        (code, _, error) = PipelineFixture.Invoke(new EvalCommand(), "--model", _model, "--data", Path.Combine(_f.Root, "no-data"));
        Assert.Equal(1, code);
        Assert.Contains("no-data: folder not found", error);

        File.Delete(Path.Combine(_model, ChatTokenizer.RankFileName));
        (code, _, error) = PipelineFixture.Invoke(new SftCommand(), "--model", _model, "--data", Path.Combine(_f.Data, "sft"), "--out", Path.Combine(_f.Root, "x"));
        Assert.Equal(1, code);
        Assert.Contains("--tokenizer", error);
        Assert.False(Directory.Exists(Path.Combine(_f.Root, "x")));
    }

    async Task<(int Code, string Output, string Error)> Chat(string input, string? model = null)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = await ChatCommand.RunAsync(model ?? _model, new StringReader(input), output, error,
            new ChatCommand.ChatOptions { MaxNewTokens = 6, Weights = WeightFormat.F32, Seed = 1 }, interactive: false, CancellationToken.None);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Chat_reads_redirected_stdin_streams_answers_and_handles_its_commands()
    {
        var (code, output, error) = await Chat("hello\n/temp 0\nWhat is the capital of France?\n/continue\n/temp abc\n/reset\n/continue\n/bogus\n/exit\nnever read\n");
        Assert.True(code == 0, error);
        Assert.Contains("[temperature 0]", output);
        Assert.Contains("[usage: /temp <t>", output);
        Assert.Contains("[conversation cleared]", output);
        Assert.Contains("[nothing to continue", output);
        Assert.Contains("[unknown command /bogus", output);

        // A random tiny model rarely closes its answer in 6 tokens: /continue must extend the same answer.
        var tok = ChatTokenizer.Load(_model);
        var generator = new Generator(new InferenceModel(Checkpoint.LoadParameters(_model), WeightFormat.F32), new GeneratorOptions { MaxConcurrent = 1 });
        var session = new ChatSession(tok, generator, new ChatCommand.ChatOptions { MaxNewTokens = 6, Temperature = 0, Weights = WeightFormat.F32 });
        var streamed = new System.Text.StringBuilder();
        var finish = await session.ReplyAsync("hi", s => streamed.Append(s), CancellationToken.None);
        Assert.Equal(session.Messages[^1].Content, streamed.ToString());
        if (finish == FinishReason.Length)
        {
            string first = session.Messages[^1].Content;
            await session.ReplyAsync(null, s => streamed.Append(s), CancellationToken.None);
            Assert.Equal(2, session.Messages.Count);
            Assert.StartsWith(first, session.Messages[^1].Content);
            Assert.Equal(streamed.ToString(), session.Messages[^1].Content);
        }
        // Many turns never overflow the context: the oldest are dropped.
        for (int i = 0; i < 12; i++) await session.ReplyAsync($"question number {i} about the capital of Spain", _ => { }, CancellationToken.None);
        generator.Dispose();
    }

    [Fact]
    public async Task Chat_without_a_model_says_how_to_get_one()
    {
        var (code, _, error) = await Chat("hi\n", Path.Combine(_f.Root, "absent-model"));
        Assert.Equal(1, code);
        Assert.Contains("absent-model: folder not found", error);
    }
}
