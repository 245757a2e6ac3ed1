using System.Text;
using System.Text.Json;
using ChatForge.Tokenizer;

namespace ChatForge.Import;

/// <summary>
/// A SentencePiece-style BPE tokenizer.json (Llama-2, TinyLlama, Mistral-7B-v0.1): spaces written as "▁"
/// (U+2581) by a Prepend + Replace normaliser or a Metaspace pre-tokenizer, merges over characters, and
/// characters outside the vocabulary spelled as &lt;0xNN&gt; byte tokens (byte_fallback). Decoding maps each
/// id to bytes ("▁" → space, &lt;0xNN&gt; → that byte), so a Chinese character split into byte tokens is
/// streamed whole; <see cref="Decode"/> drops the one leading space the normaliser added, as the file's
/// Strip / Metaspace decoder does. Added tokens (&lt;s&gt;, &lt;/s&gt;) are never produced from user text.
/// </summary>
public sealed class SentencePieceBpeTokenizer : IImportedTokenizer
{
    readonly SentencePieceBpe _bpe;
    readonly byte[][] _bytes;
    readonly Dictionary<string, int> _added;
    readonly List<Func<string, string>> _normalizers;
    readonly Metaspace? _metaspace;
    readonly int _stripLeadingSpaces;
    readonly IChatTemplate _template;

    public int VocabSize => _bytes.Length;
    public IReadOnlyList<int> StopTokenIds { get; }
    public string TemplateName => _template.Name;
    public IReadOnlyDictionary<string, int> AddedTokens => _added;
    /// <summary>The beginning-of-sequence id the chat prompt starts with (from the post-processor or add_bos_token), or -1.</summary>
    public int BosId { get; }

    SentencePieceBpeTokenizer(SentencePieceBpe bpe, byte[][] bytes, Dictionary<string, int> added, List<Func<string, string>> normalizers,
        Metaspace? metaspace, int stripLeadingSpaces, int bos, TokenizerSettings settings)
    {
        _bpe = bpe; _bytes = bytes; _added = added; _normalizers = normalizers; _metaspace = metaspace; _stripLeadingSpaces = stripLeadingSpaces;
        BosId = bos;
        int eos = settings.EosToken is not null && added.TryGetValue(settings.EosToken, out int e) ? e : added.GetValueOrDefault("</s>", -1);
        _template = ChatTemplates.Recognise(settings.ChatTemplate, Encode, added, new RunEncoding(EncodeRun, bos, eos, WholeRuns: true));
        StopTokenIds = settings.StopTokenIds(added, bytes.Length, _template.EndOfTurnTokens);
    }

    /// <summary>Builds the tokenizer from a parsed tokenizer.json whose model is a BPE without a ByteLevel step (see <see cref="HfTokenizer.Load"/>).</summary>
    internal static SentencePieceBpeTokenizer Load(JsonElement root, JsonElement model, string path, string folder)
    {
        var vocab = HfTokenizer.ReadVocab(model, path);
        var added = HfTokenizer.ReadAddedTokens(root, path);
        var merges = HfTokenizer.ReadMerges(model, path, "a SentencePiece-style BPE tokenizer needs them (a GGUF \"llama\" tokenizer derives them from its scores)");
        var encodingVocab = vocab.Where(kv => !added.ContainsKey(kv.Key)).ToDictionary(StringComparer.Ordinal);

        // Merges keyed by id pair; a merge that would produce an added token (e.g. "</s>") is left out, so typed text never becomes one.
        var mergeMap = new Dictionary<(int Left, int Right), (int Rank, int Merged)>();
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (!vocab.TryGetValue(left, out int l) || !vocab.TryGetValue(right, out int r))
                throw new InvalidDataException($"{path}: merge {rank} \"{left} {right}\" uses a piece that is not in the vocab.");
            if (!vocab.TryGetValue(left + right, out int merged))
                throw new InvalidDataException($"{path}: merge {rank} \"{left} {right}\" makes \"{left + right}\", which is not in the vocab.");
            if (!added.ContainsKey(left + right)) mergeMap.TryAdd((l, r), (rank, merged));
        }

        bool byteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True;
        int[]? byteIds = null;
        if (byteFallback)
        {
            byteIds = new int[256];
            for (int b = 0; b < 256; b++)
                byteIds[b] = encodingVocab.TryGetValue(ByteToken(b), out int id) ? id
                    : throw new InvalidDataException($"{path}: byte_fallback is on but the vocab has no byte token \"{ByteToken(b)}\" (all of <0x00>…<0xFF> are needed).");
        }
        string? unkToken = model.TryGetProperty("unk_token", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        int unk = unkToken is null ? -1 : vocab.TryGetValue(unkToken, out int unkId) ? unkId
            : throw new InvalidDataException($"{path}: unk_token \"{unkToken}\" is not in the vocab.");
        if (!byteFallback && unk < 0)
            throw new InvalidDataException($"{path}: the BPE model has neither byte_fallback nor an unk_token, so characters outside the vocab could not be encoded.");
        bool fuseUnk = model.TryGetProperty("fuse_unk", out var fu) && fu.ValueKind == JsonValueKind.True;

        var (replaceSpace, byteDecoder, strip) = SentencePieceJson.Decoder(root, path);
        int size = Math.Max(vocab.Count == 0 ? 0 : vocab.Values.Max() + 1, added.Count == 0 ? 0 : added.Values.Max() + 1);
        var bytes = new byte[size][];
        foreach (var (token, id) in vocab)
            bytes[id] = (byteFallback || byteDecoder) && IsByteToken(token, out byte b) ? [b]
                : Encoding.UTF8.GetBytes(replaceSpace is char c ? token.Replace(c, ' ') : token);
        foreach (var (token, id) in added) bytes[id] = Encoding.UTF8.GetBytes(token);
        for (int id = 0; id < size; id++) bytes[id] ??= [];

        var settings = TokenizerSettings.Load(folder);
        string? bosToken = SentencePieceJson.PostProcessorBos(root) ?? (settings.AddBosToken ? settings.BosToken : null);
        int bos = bosToken is not null && (added.TryGetValue(bosToken, out int bosId) || vocab.TryGetValue(bosToken, out bosId)) ? bosId : -1;
        return new SentencePieceBpeTokenizer(new SentencePieceBpe(encodingVocab, mergeMap, byteIds, unk, fuseUnk), bytes, added,
            SentencePieceJson.Normalizers(root, path), SentencePieceJson.PreTokenizer(root, path), strip, bos, settings);
    }

    static string ByteToken(int b) => $"<0x{b:X2}>";

    static bool IsByteToken(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out value);
    }

    /// <summary>Encodes text as the start of an input (the normaliser's or Metaspace's "▁" goes in front).</summary>
    public int[] Encode(string text) => EncodeRun(text, atStart: true);

    /// <summary>
    /// Encodes one run of text between special tokens, as tokenizers does for each piece it splits around
    /// added tokens: the normaliser runs on each piece (Llama-2's Prepend gives every piece its "▁"), while
    /// Metaspace's "first" scheme prepends only at the start of the input.
    /// </summary>
    internal int[] EncodeRun(string text, bool atStart)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) return [];
        text = TextSanitizer.ReplaceLoneSurrogates(text);
        foreach (var normalize in _normalizers) text = normalize(text);
        var ids = new List<int>(text.Length);
        if (_metaspace is not { } m)
        {
            _bpe.Encode(text, ids);
            return ids.ToArray();
        }
        text = text.Replace(' ', m.Replacement);
        bool prepend = m.PrependScheme == "always" || m.PrependScheme == "first" && atStart;
        if (prepend && text.Length > 0 && text[0] != m.Replacement) text = m.Replacement + text;
        if (!m.Split) { _bpe.Encode(text, ids); return ids.ToArray(); }
        // Split before each replacement character, which starts the next pre-token (MergedWithNext).
        int start = 0;
        for (int i = 1; i <= text.Length; i++)
            if (i == text.Length || text[i] == m.Replacement) { _bpe.Encode(text.AsSpan(start, i - start), ids); start = i; }
        return ids.ToArray();
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var buffer = new List<byte>(ids.Length * 4);
        for (int i = 0; i < ids.Length; i++) buffer.AddRange(TokenBytes(ids[i]));
        string text = Encoding.UTF8.GetString(buffer.ToArray());
        int strip = 0;
        while (strip < _stripLeadingSpaces && strip < text.Length && text[strip] == ' ') strip++;
        return text[strip..];
    }

    public byte[] TokenBytes(int id) =>
        (uint)id < (uint)_bytes.Length ? _bytes[id] : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is outside the vocabulary (0..{_bytes.Length - 1}).");

    public RenderedChat RenderChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) => _template.Render(messages, addGenerationPrompt);

    /// <summary>Streams every id's bytes, spaces included: a continued answer keeps the space before its first word.</summary>
    public IStreamingDecoder CreateStreamingDecoder() => new ByteStreamingDecoder(TokenBytes);
}
