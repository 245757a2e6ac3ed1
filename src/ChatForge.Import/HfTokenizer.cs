using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatForge.Tokenizer;
using Microsoft.ML.Tokenizers;

namespace ChatForge.Import;

/// <summary>
/// A Hugging Face byte-level BPE tokenizer (tokenizer.json of GPT-2, Qwen2, Llama-3, SmolLM2…) as an
/// <see cref="IChatTokenizer"/>: encoding by Microsoft.ML.Tokenizers' BpeTokenizer with ByteLevel = true,
/// the file's merges and pre-tokenizer regex; decoding by mapping each id back to its bytes (so streamed
/// output never shows half a character). Added tokens are never produced from user text (special-token
/// parsing off). The chat template is recognised from tokenizer_config.json's Jinja source.
/// </summary>
public sealed class HfTokenizer : IImportedTokenizer
{
    public const string TokenizerFile = "tokenizer.json", TokenizerConfigFile = "tokenizer_config.json", GenerationConfigFile = "generation_config.json";

    /// <summary>GPT-2's pre-tokenizer, used by a ByteLevel pre-tokenizer with use_regex = true.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    readonly BpeTokenizer _bpe;
    readonly byte[][] _bytes;
    readonly Dictionary<string, int> _added;
    readonly bool _nfc, _addPrefixSpace;
    readonly IChatTemplate _template;

    public int VocabSize => _bytes.Length;
    public IReadOnlyList<int> StopTokenIds { get; }
    public string TemplateName => _template.Name;
    public IReadOnlyDictionary<string, int> AddedTokens => _added;

    HfTokenizer(BpeTokenizer bpe, byte[][] bytes, Dictionary<string, int> added, bool nfc, bool addPrefixSpace, TokenizerSettings settings)
    {
        _bpe = bpe; _bytes = bytes; _added = added; _nfc = nfc; _addPrefixSpace = addPrefixSpace;
        int eos = settings.EosToken is not null && added.TryGetValue(settings.EosToken, out int e) ? e : -1;
        _template = ChatTemplates.Recognise(settings.ChatTemplate, Encode, added, new RunEncoding((text, _) => Encode(text), -1, eos, WholeRuns: false));
        StopTokenIds = settings.StopTokenIds(added, bytes.Length, _template.EndOfTurnTokens);
    }

    /// <summary>
    /// Loads tokenizer.json (required), tokenizer_config.json and generation_config.json (optional) from a
    /// model folder: a BPE model with a ByteLevel pre-tokenizer is byte-level BPE (this class), any other BPE
    /// model is SentencePiece-style (<see cref="SentencePieceBpeTokenizer"/>).
    /// </summary>
    public static IImportedTokenizer Load(string folder)
    {
        string path = Path.Combine(folder, TokenizerFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"Tokenizer not found: {path}", path);
        using var doc = Parse(path);
        var root = doc.RootElement;
        var model = Property(root, "model", path);
        string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "BPE";
        if (type != "BPE")
            throw new NotSupportedException($"{path}: tokenizer model type '{type}' is not supported (supported: BPE, either byte-level as in GPT-2, Qwen2, " +
                "Llama-3 and SmolLM2, or SentencePiece-style with \u2581 and byte fallback as in Llama-2, TinyLlama and Mistral).");
        return HasByteLevelStep(root) ? LoadByteLevel(root, model, path, folder) : SentencePieceBpeTokenizer.Load(root, model, path, folder);
    }

    static bool HasByteLevelStep(JsonElement root)
    {
        static bool IsByteLevel(JsonElement step) => step.ValueKind == JsonValueKind.Object && step.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "ByteLevel";
        return root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object
            && (IsByteLevel(pre) || pre.TryGetProperty("pretokenizers", out var steps) && steps.ValueKind == JsonValueKind.Array && steps.EnumerateArray().Any(IsByteLevel));
    }

    static HfTokenizer LoadByteLevel(JsonElement root, JsonElement model, string path, string folder)
    {
        var vocab = ReadVocab(model, path);
        var merges = ReadMerges(model, path, "a byte-level BPE tokenizer needs them").Select(m => m.Left + " " + m.Right).ToList();
        var added = ReadAddedTokens(root, path);

        var (pattern, addPrefixSpace) = PreTokenizerPattern(root, path);
        bool nfc = Normalizer(root, path);

        // Ids → bytes: byte-level vocab strings map back through GPT-2's byte ↔ printable-character table.
        int size = Math.Max(vocab.Count == 0 ? 0 : vocab.Values.Max() + 1, added.Count == 0 ? 0 : added.Values.Max() + 1);
        var bytes = new byte[size][];
        foreach (var (token, id) in vocab) if (!added.ContainsKey(token)) bytes[id] = ByteLevel.ToBytes(token, path);
        foreach (var (token, id) in added) bytes[id] = Encoding.UTF8.GetBytes(token);
        for (int id = 0; id < size; id++) bytes[id] ??= [];

        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(new BpeOptions(vocab.Where(kv => !added.ContainsKey(kv.Key)))
            {
                Merges = merges,
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), specialTokens: null),
            });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: the BPE vocabulary or merges are inconsistent ({e.Message}).", e);
        }
        return new HfTokenizer(bpe, bytes, added, nfc, addPrefixSpace, TokenizerSettings.Load(folder));
    }

    /// <summary>The pre-tokenizer's split regex: a Split inside a Sequence (Qwen2, Llama-3) or ByteLevel's own GPT-2 regex.</summary>
    static (string Pattern, bool AddPrefixSpace) PreTokenizerPattern(JsonElement root, string path)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object)
            throw new NotSupportedException($"{path}: no pre_tokenizer; only byte-level BPE tokenizers are supported.");
        var steps = pre.GetProperty("type").GetString() == "Sequence" ? pre.GetProperty("pretokenizers").EnumerateArray().ToList() : [pre];
        string? pattern = null;
        bool byteLevel = false, prefixSpace = false;
        foreach (var step in steps)
        {
            string kind = step.GetProperty("type").GetString() ?? "";
            if (kind == "Split" && step.TryGetProperty("pattern", out var p) && p.TryGetProperty("Regex", out var regex))
                pattern = ToDotNet(regex.GetString()!);
            else if (kind == "ByteLevel")
            {
                byteLevel = true;
                prefixSpace = step.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.True;
                bool useRegex = !step.TryGetProperty("use_regex", out var ur) || ur.ValueKind != JsonValueKind.False;
                if (useRegex) pattern ??= Gpt2Pattern;
            }
            else if (kind != "Digits" || pattern is null)
                throw new NotSupportedException($"{path}: pre-tokenizer '{kind}' is not supported (supported: Split with a regex, ByteLevel).");
        }
        if (!byteLevel) throw new NotSupportedException($"{path}: the pre-tokenizer has no ByteLevel step; only byte-level BPE tokenizers are supported.");
        return (pattern ?? Gpt2Pattern, prefixSpace);
    }

    /// <summary>Possessive quantifiers (?+ *+ ++, used by Llama-3's pattern) become .NET atomic groups.</summary>
    static string ToDotNet(string pattern) =>
        Regex.Replace(TiktokenToHf.FromOniguruma(pattern), @"(\\p\{\w+\}|\[[^\]]*\]|\\[sSdDwW]|.)([?*+])\+", "(?>$1$2)");

    static bool Normalizer(JsonElement root, string path)
    {
        if (!root.TryGetProperty("normalizer", out var n) || n.ValueKind == JsonValueKind.Null) return false;
        string kind = n.GetProperty("type").GetString() ?? "";
        return kind == "NFC" ? true : throw new NotSupportedException($"{path}: normalizer '{kind}' is not supported (supported: none, NFC).");
    }

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) return [];
        text = TextSanitizer.ReplaceLoneSurrogates(text);
        if (_nfc) text = text.Normalize(NormalizationForm.FormC);
        if (_addPrefixSpace && text[0] != ' ') text = " " + text;
        var ids = _bpe.EncodeToIds(text, considerPreTokenization: true, considerNormalization: false);
        return ids as int[] ?? ids.ToArray();
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var buffer = new List<byte>(ids.Length * 4);
        for (int i = 0; i < ids.Length; i++) buffer.AddRange(TokenBytes(ids[i]));
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public byte[] TokenBytes(int id) =>
        (uint)id < (uint)_bytes.Length ? _bytes[id] : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is outside the vocabulary (0..{_bytes.Length - 1}).");

    public RenderedChat RenderChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) => _template.Render(messages, addGenerationPrompt);

    public IStreamingDecoder CreateStreamingDecoder() => new ByteStreamingDecoder(TokenBytes);

    internal static Dictionary<string, int> ReadVocab(JsonElement model, string path)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var json = Property(model, "vocab", path);
        if (json.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: model.vocab is not an object of token → id.");
        foreach (var entry in json.EnumerateObject())
            vocab[entry.Name] = entry.Value.TryGetInt32(out int id) && id >= 0 ? id : throw new InvalidDataException($"{path}: vocab entry '{entry.Name}' has no valid id.");
        return vocab;
    }

    /// <summary>The merges in rank order, written "a b" or ["a", "b"].</summary>
    internal static List<(string Left, string Right)> ReadMerges(JsonElement model, string path, string why)
    {
        if (!model.TryGetProperty("merges", out var json) || json.ValueKind != JsonValueKind.Array || json.GetArrayLength() == 0)
            throw new InvalidDataException($"{path}: the BPE model has no merges; {why}.");
        var merges = new List<(string, string)>(json.GetArrayLength());
        foreach (var m in json.EnumerateArray())
        {
            string[]? parts = m.ValueKind switch
            {
                JsonValueKind.String => m.GetString()!.Split(' '),
                JsonValueKind.Array when m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String => [m[0].GetString()!, m[1].GetString()!],
                _ => null,
            };
            if (parts is not { Length: 2 }) throw new InvalidDataException($"{path}: merge {merges.Count} is neither \"a b\" nor [\"a\", \"b\"].");
            merges.Add((parts[0], parts[1]));
        }
        return merges;
    }

    internal static Dictionary<string, int> ReadAddedTokens(JsonElement root, string path)
    {
        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        if (root.TryGetProperty("added_tokens", out var json) && json.ValueKind == JsonValueKind.Array)
            foreach (var a in json.EnumerateArray())
                added[a.TryGetProperty("content", out var c) && c.GetString() is string content ? content : throw new InvalidDataException($"{path}: an added token has no content.")]
                    = a.TryGetProperty("id", out var id) && id.TryGetInt32(out int value) && value >= 0 ? value : throw new InvalidDataException($"{path}: added token '{c.GetString()}' has no valid id.");
        return added;
    }

    static JsonDocument Parse(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message}).", e); }
    }

    static JsonElement Property(JsonElement e, string name, string path) =>
        e.TryGetProperty(name, out var v) ? v : throw new InvalidDataException($"{path}: \"{name}\" is missing.");
}

/// <summary>Streams ids to text, holding back the bytes of a character split across tokens until it is complete.</summary>
internal sealed class ByteStreamingDecoder(Func<int, byte[]> bytesOf) : IStreamingDecoder
{
    readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    char[] _chars = new char[64];

    public string Push(int id) => Convert(bytesOf(id), flush: false);
    public string Flush() => Convert([], flush: true);

    string Convert(byte[] bytes, bool flush)
    {
        int max = bytes.Length + 8;
        if (_chars.Length < max) _chars = new char[max * 2];
        int n = _utf8.GetChars(bytes, 0, bytes.Length, _chars, 0, flush);
        return n == 0 ? string.Empty : new string(_chars, 0, n);
    }
}

/// <summary>GPT-2's table mapping each byte to a printable character (the form byte-level vocabularies are written in).</summary>
internal static class ByteLevel
{
    static readonly Dictionary<char, byte> CharToByte = Build();

    static Dictionary<char, byte> Build()
    {
        var map = new Dictionary<char, byte>();
        int extra = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[(char)(printable ? b : 256 + extra++)] = (byte)b;
        }
        return map;
    }

    static readonly char[] ByteToChar = CharToByte.OrderBy(kv => kv.Value).Select(kv => kv.Key).ToArray();

    public static string ToText(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    public static byte[] ToBytes(string token, string path)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
            bytes[i] = CharToByte.TryGetValue(token[i], out byte b) ? b
                : throw new InvalidDataException($"{path}: vocab token '{token}' has character U+{(int)token[i]:X4}, which is not byte-level BPE.");
        return bytes;
    }
}
