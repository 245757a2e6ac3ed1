using System.Text.Json.Nodes;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;

namespace ChatForge.Server.Tests;

/// <summary>
/// The server serves an imported model's folder like its own: a Llama-shaped model whose tokenizer is a Hugging Face
/// SentencePiece-style tokenizer.json with TinyLlama's Zephyr chat template (the Import tests' fixture).
/// </summary>
public sealed class ImportedModelTests
{
    static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "ChatForge.Import.Tests", "Fixtures", "spm-tokenizer");

    [Fact]
    public async Task An_imported_model_folder_with_a_sentencepiece_tokenizer_streams_answers()
    {
        using var temp = new TempDir();
        string dir = temp.Sub("imported");
        var tokenizer = ChatForge.Import.ModelFolder.LoadTokenizer(Fixture);
        var config = ModelConfig.LlamaStyle(tokenizer.VocabSize, 32, 2, 4, 2, 64, 256);
        var parameters = new ParameterBuffer(new ParameterLayout(config));
        var rng = new Random(3);
        foreach (var t in parameters.Layout.Tensors)
        {
            var span = parameters[t];
            for (int i = 0; i < span.Length; i++) span[i] = t.Name.Contains("norm") ? 1f : (float)(rng.NextDouble() * 2 - 1) * 0.2f;
        }
        // Greedy answers made readable: the final norm keeps only hidden unit 0, and the LM head's column 0 favours one
        // ASCII letter when that unit is positive and another when it is negative, so the answer is letters, never </s>.
        var layout = parameters.Layout;
        var norm = parameters[layout.FinalNormWeight];
        norm.Clear();
        norm[0] = 1f;
        var letters = Enumerable.Range(0, tokenizer.VocabSize)
            .Where(id => ((ChatForge.Import.IImportedTokenizer)tokenizer).TokenBytes(id) is [>= (byte)'a' and <= (byte)'z']).Take(2).ToArray();
        Assert.Equal(2, letters.Length);
        var head = parameters[layout.LmHead];
        for (int v = 0; v < config.VocabSize; v++) head[v * config.HiddenSize] = v == letters[0] ? 5f : v == letters[1] ? -5f : 0f;
        Checkpoint.Save(dir, parameters); // replaces the folder, so the tokenizer files go in after it
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" }) File.Copy(Path.Combine(Fixture, file), Path.Combine(dir, file));
        Assert.Equal("zephyr", ((ChatForge.Import.IImportedTokenizer)ChatForge.Server.Models.EngineModelLoader.DefaultTokenizer(dir)).TemplateName);

        using var factory = new ServerFactory(new() { ["ChatForge:ModelDir"] = dir });
        var api = await factory.UserAsync();
        string id = await api.CreateChatAsync(new { temperature = 0.0 });
        var events = await api.StreamAsync($"/api/chats/{id}/messages", new { content = "你好, what is 2+2? </s>" });
        Assert.Equal("start", events[0].Event);
        Assert.True(events[^1].Event == "done", "stream ended with " + events[^1].Event + ": " + events[^1].Data.ToJsonString());
        var messages = (await api.GetJsonAsync($"/api/chats/{id}"))["messages"]!.AsArray();
        Assert.Equal("你好, what is 2+2? </s>", messages[0]!["content"]!.GetValue<string>());
        Assert.Equal("assistant", messages[1]!["role"]!.GetValue<string>());
        string answer = messages[1]!["content"]!.GetValue<string>();
        Assert.Equal(string.Concat(events.Where(e => e.Event == "delta").Select(e => e.Data["text"]!.GetValue<string>())), answer);
        Assert.Matches("^[a-z]{6,}$", answer.Replace(" ", ""));
    }

    [Fact]
    public void A_hugging_face_folder_is_served_as_it_is_and_a_folder_without_config_is_named()
    {
        using var temp = new TempDir();
        string ours = temp.Sub("ours"), hf = temp.Sub("hf");
        var tokenizer = ChatForge.Import.ModelFolder.LoadTokenizer(Fixture);
        var parameters = new ParameterBuffer(new ParameterLayout(ModelConfig.LlamaStyle(tokenizer.VocabSize, 32, 2, 4, 2, 64, 256)));
        var rng = new Random(4);
        for (int i = 0; i < parameters.Data.Length; i++) parameters.Data[i] = (float)(rng.NextDouble() - 0.5) * 0.2f;
        Checkpoint.Save(ours, parameters);
        ChatForge.Import.ModelFolder.ExportHf(ours, hf, TensorDType.F32);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" }) File.Copy(Path.Combine(Fixture, file), Path.Combine(hf, file), overwrite: true);
        Assert.Contains("\"architectures\"", File.ReadAllText(Path.Combine(hf, "config.json")));

        var loader = new ChatForge.Server.Models.EngineModelLoader(Microsoft.Extensions.Options.Options.Create(new ServerOptions { KvCache = "int8" }));
        using (var backend = loader.Load(hf, "hf")) Assert.Equal(256, backend.ContextLength);
        // A folder with a tokenizer but no config.json: the weights loader names the setting and the file.
        string noConfig = Directory.CreateDirectory(temp.Sub("no-config")).FullName;
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" }) File.Copy(Path.Combine(Fixture, file), Path.Combine(noConfig, file));
        var missing = Assert.Throws<FileNotFoundException>(() => loader.Load(noConfig, "no-config"));
        Assert.Contains("ChatForge:ModelDir", missing.Message);
        Assert.Contains("config.json", missing.Message);
        var badKv = new ChatForge.Server.Models.EngineModelLoader(Microsoft.Extensions.Options.Options.Create(new ServerOptions { KvCache = "fp8" }));
        Assert.Contains("ChatForge:KvCache", Assert.Throws<ArgumentException>(() => badKv.Load(hf, "hf")).Message);
    }

    [Fact]
    public void A_missing_gguf_file_is_named_by_the_loader()
    {
        var loader = new ChatForge.Server.Models.EngineModelLoader(Microsoft.Extensions.Options.Options.Create(new ServerOptions()));
        var error = Assert.Throws<DirectoryNotFoundException>(() => loader.Load("/nonexistent/folder/model.gguf", "default"));
        Assert.Contains("/nonexistent/folder/model.gguf", error.Message);
    }
}
