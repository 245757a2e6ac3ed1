using System.Text.Json;
using ChatForge.Tokenizer;

namespace ChatForge.Import.Tests;

/// <summary>The byte-level BPE fixture (trained and encoded by bench/reference/hf_reference.py) read through HfTokenizer.</summary>
public sealed class HfTokenizerTests
{
    static readonly string Folder = Fixture.Folder("tokenizer");

    static (string Text, int[] Ids) Expected()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "expected.json")));
        return (doc.RootElement.GetProperty("text").GetString()!, doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
    }

    [Fact]
    public void MixedChineseEnglishTextGivesTheReferenceIds()
    {
        var tokenizer = HfTokenizer.Load(Folder);
        var (text, ids) = Expected();
        Assert.Equal(ids, tokenizer.Encode(text));
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal(339, tokenizer.VocabSize);
    }

    [Fact]
    public void SpecialTokensInUserTextStayText()
    {
        var tokenizer = HfTokenizer.Load(Folder);
        var ids = tokenizer.Encode("a<|im_end|>b");
        Assert.DoesNotContain(tokenizer.AddedTokens["<|im_end|>"], ids);
        Assert.Equal("a<|im_end|>b", tokenizer.Decode(ids));
    }

    [Fact]
    public void ChatMlTemplateIsRecognisedAndStopsOnImEnd()
    {
        var tokenizer = HfTokenizer.Load(Folder);
        Assert.Equal("chatml", tokenizer.TemplateName);
        Assert.Contains(tokenizer.AddedTokens["<|im_end|>"], tokenizer.StopTokenIds);
        var chat = tokenizer.RenderChat([new(ChatRoles.User, "你好"), new(ChatRoles.Assistant, "Hello!")], addGenerationPrompt: true);
        Assert.Equal("<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>assistant\n", tokenizer.Decode(chat.Ids));
        string answer = tokenizer.Decode(chat.Ids.Where((_, i) => chat.Mask[i]).ToArray());
        Assert.Equal("Hello!<|im_end|>", answer);
    }

    [Fact]
    public void StreamingDecoderHoldsBackSplitCharacters()
    {
        var tokenizer = HfTokenizer.Load(Folder);
        var ids = tokenizer.Encode("界");
        Assert.True(ids.Length > 1); // three UTF-8 bytes, not merged in this small vocabulary
        var decoder = tokenizer.CreateStreamingDecoder();
        var pieces = ids.Select(decoder.Push).ToList();
        Assert.All(pieces.Take(pieces.Count - 1), p => Assert.Equal("", p));
        Assert.Equal("界", pieces[^1] + decoder.Flush());
    }

    [Fact]
    public void TokenizerWithoutMergesIsRefused()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("tokenizer");
        string path = Path.Combine(folder, "tokenizer.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        json["model"]!["merges"] = new System.Text.Json.Nodes.JsonArray();
        File.WriteAllText(path, json.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(folder));
        Assert.Contains("merges", e.Message);
        Assert.Contains("tokenizer.json", e.Message);
    }

    [Fact]
    public void UnsupportedTokenizerModelIsNamed()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("tokenizer");
        string path = Path.Combine(folder, "tokenizer.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        json["model"]!["type"] = "Unigram";
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("Unigram", Assert.Throws<NotSupportedException>(() => HfTokenizer.Load(folder)).Message);
    }
}

/// <summary>Our own tiktoken-style tokenizer written as tokenizer.json and read back through BpeTokenizer encodes identically.</summary>
public sealed class TiktokenToHfTests
{
    [Fact]
    public void ExportedTokenizerEncodesLikeOurs()
    {
        string corpus = string.Concat(Enumerable.Repeat("The model answers in English and Chinese. 模型用中文和英文回答问题。Hello world! 你好，世界！ It's 2024, numbers 12345.\n", 50));
        var ours = BpeTrainer.Train([corpus], new BpeTrainerOptions { VocabSize = 400 }).ToTokenizer();
        using var dir = new TempDir();
        TiktokenToHf.Write(ours, dir.Path);
        var hf = HfTokenizer.Load(dir.Path);
        Assert.Equal(ours.VocabSize, hf.VocabSize);
        Assert.Equal("chatml", hf.TemplateName);
        foreach (string text in new[] { "Hello, 世界! The model's answer: 你好，模型。\nIt's 2024 — tests   pass.", "模型用中文回答 English words", "  spaces\n\nand lines  " })
        {
            Assert.Equal(ours.Encode(text), hf.Encode(text));
            Assert.Equal(text, hf.Decode(hf.Encode(text)));
        }
        var chat = new List<ChatMessage> { new(ChatRoles.User, "你好"), new(ChatRoles.Assistant, "Hi") };
        Assert.Equal(ours.RenderChat(chat, true).Ids, hf.RenderChat(chat, true).Ids);
        string json = File.ReadAllText(Path.Combine(dir.Path, "tokenizer.json"));
        Assert.Contains(@"\\x{4E00}-\\x{9FFF}", json); // Oniguruma syntax for the tokenizers library
        Assert.DoesNotContain("IsCJK", json);
    }
}

/// <summary>Llama-3 and generic templates recognised from the Jinja source.</summary>
public sealed class ChatTemplateRecognitionTests
{
    static IImportedTokenizer WithTemplate(TempDir dir, string jinja, params string[] extraTokens)
    {
        string folder = dir.CopyOf("tokenizer");
        string path = Path.Combine(folder, "tokenizer.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        var added = json["added_tokens"]!.AsArray();
        int next = 339;
        foreach (string t in extraTokens) added.Add(new System.Text.Json.Nodes.JsonObject { ["id"] = next++, ["content"] = t, ["special"] = true });
        File.WriteAllText(path, json.ToJsonString());
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), new System.Text.Json.Nodes.JsonObject { ["chat_template"] = jinja, ["eos_token"] = "<|eot_id|>" }.ToJsonString());
        return HfTokenizer.Load(folder);
    }

    [Fact]
    public void Llama3Template()
    {
        using var dir = new TempDir();
        var tokenizer = WithTemplate(dir, "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}",
            "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>");
        Assert.Equal("llama3", tokenizer.TemplateName);
        Assert.Contains(tokenizer.AddedTokens["<|eot_id|>"], tokenizer.StopTokenIds);
        var chat = tokenizer.RenderChat([new(ChatRoles.System, "Be brief."), new(ChatRoles.User, "你好"), new(ChatRoles.Assistant, "Hi")], addGenerationPrompt: true);
        Assert.Equal("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n你好<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", tokenizer.Decode(chat.Ids));
        Assert.Equal("Hi<|eot_id|>", tokenizer.Decode(chat.Ids.Where((_, i) => chat.Mask[i]).ToArray()));
    }

    [Fact]
    public void UnknownTemplateFallsBackToGeneric()
    {
        using var dir = new TempDir();
        var tokenizer = WithTemplate(dir, "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}");
        Assert.Equal("generic", tokenizer.TemplateName);
        var chat = tokenizer.RenderChat([new(ChatRoles.User, "Hello")], addGenerationPrompt: true);
        Assert.Equal("User: Hello\nAssistant:", tokenizer.Decode(chat.Ids));
        Assert.Throws<ArgumentException>(() => tokenizer.RenderChat([new("tool", "x")], false));
    }
}
