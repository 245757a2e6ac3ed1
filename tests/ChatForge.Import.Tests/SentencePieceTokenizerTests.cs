using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatForge.Import.Gguf;
using ChatForge.Tokenizer;

namespace ChatForge.Import.Tests;

/// <summary>
/// The SentencePiece-style BPE fixture (Llama-2 / TinyLlama layout, written and encoded by
/// bench/reference/spm_reference.py, whose plain-Python HF BPE agrees with its llama.cpp-style score merger).
/// </summary>
public sealed class SentencePieceTokenizerTests
{
    const string Name = "spm-tokenizer";
    const int Bos = 1, Eos = 2;
    static readonly string Folder = Fixture.Folder(Name);

    static JsonElement Expected() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "expected.json"))).RootElement;
    static int[] Ids(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(x => x.GetInt32()).ToArray();
    static SentencePieceBpeTokenizer Load(string folder) => Assert.IsType<SentencePieceBpeTokenizer>(HfTokenizer.Load(folder));

    /// <summary>A copy of the fixture with tokenizer.json changed by <paramref name="edit"/>.</summary>
    static string Edited(TempDir dir, Action<JsonNode> edit)
    {
        string folder = dir.CopyOf(Name);
        string path = Path.Combine(folder, "tokenizer.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
        return folder;
    }

    [Fact]
    public void MixedTextGivesTheReferenceIds()
    {
        var tokenizer = Load(Folder);
        var expected = Expected();
        string text = expected.GetProperty("text").GetString()!;
        int[] ids = Ids(expected, "ids");
        Assert.Equal(ids, tokenizer.Encode(text));
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal(439, tokenizer.VocabSize);
        Assert.Equal(Bos, tokenizer.BosId);
        Assert.Contains(tokenizer.Encode("龍"), id => id is >= 3 and < 259); // not in the vocab: byte tokens
    }

    [Theory]
    [InlineData("Hello world! 你好，世界！")]
    [InlineData(" leading and trailing spaces  ")]
    [InlineData("lines\n\nand\ttabs\r\n")]
    [InlineData("数字 2024 和 emoji 🙂🎉, 龍 not in the vocab")]
    [InlineData("  ")]
    [InlineData("")]
    public void DecodeInvertsEncode(string text)
    {
        var tokenizer = Load(Folder);
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void StreamingNeverShowsHalfACharacter()
    {
        var tokenizer = Load(Folder);
        string text = "龍🙂 中文 and 龍龍";
        var ids = tokenizer.Encode(text);
        var decoder = tokenizer.CreateStreamingDecoder();
        var pieces = ids.Select(decoder.Push).ToList();
        Assert.All(pieces, p => Assert.DoesNotContain('\uFFFD', p));
        Assert.Contains("", pieces); // a byte token that only starts a character shows nothing yet
        // The stream keeps every space (a continued answer needs its first one); only Decode drops the normaliser's.
        Assert.Equal(" " + text, string.Concat(pieces) + decoder.Flush());
    }

    [Fact]
    public void MetaspacePreTokenizerGivesTheReferenceIds()
    {
        using var dir = new TempDir();
        string folder = Edited(dir, json =>
        {
            json["normalizer"] = null;
            json["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "\u2581", ["prepend_scheme"] = "first", ["split"] = true };
            json["decoder"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "\u2581", ["prepend_scheme"] = "first", ["split"] = true };
        });
        var tokenizer = Load(folder);
        var expected = Expected();
        string text = expected.GetProperty("metaspace_text").GetString()!;
        Assert.Equal(Ids(expected, "metaspace_ids"), tokenizer.Encode(text));
        // Metaspace adds no "▁" before an existing one, so the leading space is the one its decoder strips.
        Assert.Equal(text[1..], tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void ZephyrTemplateRendersRunByRunAndStopsOnEos()
    {
        var tokenizer = Load(Folder);
        Assert.Equal("zephyr", tokenizer.TemplateName);
        Assert.Contains(Eos, tokenizer.StopTokenIds);
        var chat = tokenizer.RenderChat([new(ChatRoles.User, "你好"), new(ChatRoles.Assistant, "Hello!")], addGenerationPrompt: true);
        // As tokenizers encodes "<|user|>\n你好</s>\n<|assistant|>\nHello!</s>\n<|assistant|>\n" after the BOS: each run between
        // </s> on its own, and Llama-2's normaliser gives each run a "▁" (TinyLlama encodes "<|user|>" as "▁<" "|" "user" "|" ">").
        int[] expected = [Bos, .. tokenizer.Encode("<|user|>\n你好"), Eos, .. tokenizer.Encode("\n<|assistant|>\nHello!"), Eos, .. tokenizer.Encode("\n<|assistant|>\n")];
        Assert.Equal(expected, chat.Ids);
        Assert.Equal("<s> <|user|>\n你好</s> \n<|assistant|>\nHello!</s> \n<|assistant|>\n", tokenizer.Decode(chat.Ids));
        Assert.Equal("Hello!</s>", tokenizer.Decode(chat.Ids.Where((_, i) => chat.Mask[i]).ToArray()));
    }

    [Fact]
    public void SpecialTokensTypedByAUserStayText()
    {
        var tokenizer = Load(Folder);
        var ids = tokenizer.Encode("a</s>b<s><unk>");
        Assert.DoesNotContain(Eos, ids);
        Assert.DoesNotContain(Bos, ids);
        Assert.DoesNotContain(0, ids);
        Assert.Equal("a</s>b<s><unk>", tokenizer.Decode(ids));
        var chat = tokenizer.RenderChat([new(ChatRoles.User, "say </s> please")], addGenerationPrompt: true);
        Assert.Single(chat.Ids, Eos); // only the template's own end of turn
    }

    [Fact]
    public void Llama2TemplateWithSystemPrompt()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf(Name);
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), new JsonObject
        {
            ["chat_template"] = "{% if messages[0]['role'] == 'system' %}{% set system_message = '<<SYS>>\\n' + messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}{% endif %}"
                + "{% for message in messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + message['content'].strip() + ' [/INST]' }}"
                + "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'].strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
            ["bos_token"] = "<s>", ["eos_token"] = "</s>",
        }.ToJsonString());
        var tokenizer = Load(folder);
        Assert.Equal("llama2", tokenizer.TemplateName);
        var chat = tokenizer.RenderChat([new(ChatRoles.System, "Be brief."), new(ChatRoles.User, "你好"), new(ChatRoles.Assistant, "Hello!"), new(ChatRoles.User, "Thanks")], true);
        Assert.Equal("<s> [INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n你好 [/INST] Hello! </s><s> [INST] Thanks [/INST]", tokenizer.Decode(chat.Ids));
        Assert.Equal("Hello! </s>", tokenizer.Decode(chat.Ids.Where((_, i) => chat.Mask[i]).ToArray()).TrimStart());
    }

    [Fact]
    public void ChatMlWithAddedTokensEncodesWholeRuns()
    {
        using var dir = new TempDir();
        string folder = Edited(dir, json =>
        {
            json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = 439, ["content"] = "<|im_start|>", ["special"] = true });
            json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = 440, ["content"] = "<|im_end|>", ["special"] = true });
        });
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), new JsonObject
        {
            ["chat_template"] = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
            ["eos_token"] = "<|im_end|>", ["add_bos_token"] = true, ["bos_token"] = "<s>",
        }.ToJsonString());
        var tokenizer = Load(folder);
        Assert.Equal("chatml", tokenizer.TemplateName);
        Assert.Equal(441, tokenizer.VocabSize);
        Assert.Contains(440, tokenizer.StopTokenIds);
        var chat = tokenizer.RenderChat([new(ChatRoles.User, "你好"), new(ChatRoles.Assistant, "Hello!")], addGenerationPrompt: true);
        int[] expected = [Bos, 439, .. tokenizer.Encode("user\n你好"), 440, .. tokenizer.Encode("\n"), 439, .. tokenizer.Encode("assistant\nHello!"), 440,
            .. tokenizer.Encode("\n"), 439, .. tokenizer.Encode("assistant\n")];
        Assert.Equal(expected, chat.Ids);
        Assert.Equal("Hello!<|im_end|>", tokenizer.Decode(chat.Ids.Where((_, i) => chat.Mask[i]).ToArray()));
    }

    [Fact]
    public void ModelFolderPicksTheTokenizerUp()
    {
        Assert.True(ModelFolder.IsHfTokenizer(Folder));
        Assert.IsType<SentencePieceBpeTokenizer>(ModelFolder.LoadTokenizer(Folder));
    }

    [Fact]
    public void BadTokenizerFilesAreRefusedByName()
    {
        using var dir = new TempDir();
        var noMerges = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(Edited(dir, j => j["model"]!["merges"] = new JsonArray())));
        Assert.Contains("merges", noMerges.Message);
        Assert.Contains("tokenizer.json", noMerges.Message);

        using var dir2 = new TempDir();
        var noBytes = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(Edited(dir2, j => j["model"]!["vocab"]!.AsObject().Remove("<0x41>"))));
        Assert.Contains("<0x41>", noBytes.Message);
        Assert.Contains("byte_fallback", noBytes.Message);
        Assert.Contains("tokenizer.json", noBytes.Message);

        using var dir3 = new TempDir();
        var badMerge = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(Edited(dir3, j => j["model"]!["merges"]!.AsArray().Add("Hel zzz"))));
        Assert.Contains("zzz", badMerge.Message);

        foreach (string type in new[] { "Unigram", "WordPiece" })
        {
            using var d = new TempDir();
            var e = Assert.Throws<NotSupportedException>(() => HfTokenizer.Load(Edited(d, j => j["model"]!["type"] = type)));
            Assert.Contains(type, e.Message);
            Assert.Contains("SentencePiece-style", e.Message);
            Assert.Contains("byte-level", e.Message);
        }

        using var dir4 = new TempDir();
        var regex = Assert.Throws<NotSupportedException>(() => HfTokenizer.Load(Edited(dir4, j => j["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" })));
        Assert.Contains("Whitespace", regex.Message);
    }
}

/// <summary>The fixture's vocabulary and scores as a GGUF "llama" tokenizer: the derived merges give the tokenizer.json ids.</summary>
public sealed class GgufSentencePieceTests
{
    static readonly string Folder = Fixture.Folder("spm-tokenizer");

    /// <summary>Writes a GGUF v3 file with only tokenizer metadata (scores left out when <paramref name="withScores"/> is false).</summary>
    static string WriteGguf(TempDir dir, bool withScores = true, string model = "llama")
    {
        string path = dir.Sub("tok.gguf");
        using var w = new BinaryWriter(File.Create(path));
        w.Write(0x46554747u); w.Write(3u); w.Write(0ul); w.Write((ulong)TokenizerMetadataCount(withScores));
        WriteTokenizerMetadata(w, withScores, model);
        return path;
    }

    internal static int TokenizerMetadataCount(bool withScores = true) => withScores ? 7 : 6;

    /// <summary>The fixture tokenizer as GGUF metadata key/value pairs (what llama.cpp's converter writes for a "llama" vocabulary).</summary>
    internal static void WriteTokenizerMetadata(BinaryWriter w, bool withScores = true, string model = "llama")
    {
        using var tokenizerJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "tokenizer.json")));
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "expected.json")));
        var scores = expected.RootElement.GetProperty("scores").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var types = expected.RootElement.GetProperty("token_types").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var tokens = new string[scores.Length];
        foreach (var v in tokenizerJson.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject()) tokens[v.Value.GetInt32()] = v.Name;
        string template = JsonNode.Parse(File.ReadAllText(Path.Combine(Folder, "tokenizer_config.json")))!["chat_template"]!.GetValue<string>();

        void Str(string s) { var b = Encoding.UTF8.GetBytes(s); w.Write((ulong)b.Length); w.Write(b); }
        Str("tokenizer.ggml.model"); w.Write(8u); Str(model);
        Str("tokenizer.ggml.tokens"); w.Write(9u); w.Write(8u); w.Write((ulong)tokens.Length); foreach (var t in tokens) Str(t);
        if (withScores) { Str("tokenizer.ggml.scores"); w.Write(9u); w.Write(6u); w.Write((ulong)scores.Length); foreach (var s in scores) w.Write(s); }
        Str("tokenizer.ggml.token_type"); w.Write(9u); w.Write(5u); w.Write((ulong)types.Length); foreach (var t in types) w.Write(t);
        Str("tokenizer.ggml.bos_token_id"); w.Write(4u); w.Write(1u);
        Str("tokenizer.ggml.eos_token_id"); w.Write(4u); w.Write(2u);
        Str("tokenizer.chat_template"); w.Write(8u); Str(template);
    }

    [Fact]
    public void LlamaTokenizerEncodesLikeTheTokenizerJson()
    {
        using var dir = new TempDir();
        using (var file = GgufFile.Open(WriteGguf(dir))) GgufTokenizer.Write(file, dir.Sub("out"));
        var tokenizer = Assert.IsType<SentencePieceBpeTokenizer>(HfTokenizer.Load(dir.Sub("out")));
        var reference = HfTokenizer.Load(Folder);
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "expected.json")));
        string text = expected.RootElement.GetProperty("text").GetString()!;
        Assert.Equal(expected.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()), tokenizer.Encode(text));
        foreach (string s in new[] { " leading space", "世界 and 模型", "a</s>b", "🙂\n\n" })
            Assert.Equal(reference.Encode(s), tokenizer.Encode(s));
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        Assert.Equal("zephyr", tokenizer.TemplateName);
        Assert.Equal(1, tokenizer.BosId);
        Assert.Contains(2, tokenizer.StopTokenIds);
        ChatMessage[] chat = [new(ChatRoles.User, "你好")];
        Assert.Equal(reference.RenderChat(chat, true).Ids, tokenizer.RenderChat(chat, true).Ids);
    }

    [Fact]
    public void LlamaTokenizerWithoutScoresIsRefused()
    {
        using var dir = new TempDir();
        using var file = GgufFile.Open(WriteGguf(dir, withScores: false));
        var e = Assert.Throws<InvalidDataException>(() => GgufTokenizer.Write(file, dir.Sub("out")));
        Assert.Contains("tokenizer.ggml.scores", e.Message);
        Assert.Contains("tok.gguf", e.Message);
    }

    [Fact]
    public void UnknownTokenizerModelIsNamed()
    {
        using var dir = new TempDir();
        using var file = GgufFile.Open(WriteGguf(dir, model: "bert"));
        var e = Assert.Throws<NotSupportedException>(() => GgufTokenizer.Write(file, dir.Sub("out")));
        Assert.Contains("'bert'", e.Message);
        Assert.Contains("llama", e.Message);
    }
}
