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
