using System.Text;
using Microsoft.ML.Tokenizers;

namespace ChatForge.Tokenizer;

/// <summary>
/// Our byte-level BPE tokenizer: a tiktoken rank file plus special tokens, encoded and decoded by
/// Microsoft.ML.Tokenizers' TiktokenTokenizer. Files: tokenizer.tiktoken and tokenizer.json in one folder.
/// Thread-safe: the server encodes from many requests at once.
/// </summary>
public sealed class ChatTokenizer : IChatTokenizer
{
    public const string RankFileName = "tokenizer.tiktoken";
    public const string ConfigFileName = "tokenizer.json";

    private readonly byte[][] _ranks;
    private readonly Dictionary<string, int> _specialTokens;
    private readonly string[] _specialNames; // by id - RankCount
    // Encodes text. It is given no special tokens at all, so no input can ever produce a special id.
    private readonly TiktokenTokenizer _text;
    // Decodes ids, special ones included (they come back as their names, e.g. "<|im_end|>").
    private readonly TiktokenTokenizer _decoder;

    private ChatTokenizer(byte[][] ranks, string pattern, Dictionary<string, int> specialTokens, byte[] rankFile)
    {
        _ranks = ranks;
        Pattern = pattern;
        _specialTokens = specialTokens;
        _specialNames = specialTokens.OrderBy(t => t.Value).Select(t => t.Key).ToArray();
        var regex = PreSplitPatterns.Compile(pattern);
        _text = TiktokenTokenizer.Create(new MemoryStream(rankFile), new RegexPreTokenizer(regex, specialTokens: null), normalizer: null, specialTokens: null);
        _decoder = TiktokenTokenizer.Create(new MemoryStream(rankFile), new RegexPreTokenizer(regex, specialTokens: null), normalizer: null, specialTokens: specialTokens);
        EndOfTextId = specialTokens[SpecialTokens.EndOfText];
        ImStartId = specialTokens[SpecialTokens.ImStart];
        ImEndId = specialTokens[SpecialTokens.ImEnd];
        StopTokenIds = [ImEndId, EndOfTextId];
        Template = new ChatMlTemplate(Encode, ImStartId, ImEndId);
    }

    public string Pattern { get; }
    /// <summary>Number of BPE ranks (256 bytes + merges); special tokens follow them.</summary>
    public int RankCount => _ranks.Length;
    public int VocabSize => _ranks.Length + _specialNames.Length;
    public IReadOnlyDictionary<string, int> SpecialTokenIds => _specialTokens;
    public int EndOfTextId { get; }
    public int ImStartId { get; }
    public int ImEndId { get; }
    public IReadOnlyList<int> StopTokenIds { get; }
    public ChatMlTemplate Template { get; }

    /// <summary>A tokenizer from trained ranks, with <paramref name="specialSlots"/> special tokens after them.</summary>
    public static ChatTokenizer Create(IReadOnlyList<byte[]> ranks, string pattern, int specialSlots = SpecialTokens.DefaultSlots)
    {
        byte[] rankFile = TiktokenRankFile.Format(ranks);
        var parsed = TiktokenRankFile.Parse(rankFile, "(trained ranks)");
        return new ChatTokenizer(parsed, pattern, SpecialTokens.Layout(parsed.Length, specialSlots), rankFile);
    }

    /// <summary>Loads tokenizer.tiktoken and tokenizer.json from a folder, checking both (errors name the file and line).</summary>
    public static ChatTokenizer Load(string folder)
    {
        string rankPath = Path.Combine(folder, RankFileName);
        string configPath = Path.Combine(folder, ConfigFileName);
        byte[] rankFile = ReadFile(rankPath, "rank file");
        byte[] configFile = ReadFile(configPath, "tokenizer config");

        byte[][] ranks = TiktokenRankFile.Parse(rankFile, rankPath);
        var (config, lines) = TokenizerConfig.Parse(configFile, configPath);
        try { PreSplitPatterns.Compile(config.Pattern); }
        catch (ArgumentException ex) { throw new TokenizerFileException(configPath, lines["pattern"], ex.Message, ex); }

        var specials = new Dictionary<string, int>(config.SpecialTokens, StringComparer.Ordinal);
        foreach (string required in SpecialTokens.Required)
        {
            if (!specials.ContainsKey(required))
                throw new TokenizerFileException(configPath, lines["special_tokens"], $"special token {required} is missing");
        }
        int expectedVocab = ranks.Length + specials.Count;
        if (config.VocabSize != expectedVocab)
            throw new TokenizerFileException(configPath, lines["vocab_size"],
                $"vocab_size is {config.VocabSize} but {rankPath} has {ranks.Length} ranks and there are {specials.Count} special tokens ({expectedVocab}); one of the files is truncated or from another tokenizer");
        var seen = new HashSet<int>();
        foreach (var (name, id) in specials)
        {
            int line = lines["special_tokens." + name];
            if (id < ranks.Length || id >= expectedVocab)
                throw new TokenizerFileException(configPath, line, $"special token {name} has id {id}; special ids must lie in {ranks.Length}..{expectedVocab - 1}, right after the {ranks.Length} ranks");
            if (!seen.Add(id))
                throw new TokenizerFileException(configPath, line, $"special token {name} reuses id {id}");
        }
        return new ChatTokenizer(ranks, config.Pattern, specials, rankFile);
    }

    /// <summary>Writes tokenizer.tiktoken and tokenizer.json into the folder (each written to a temporary file, then renamed).</summary>
    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        WriteAtomically(Path.Combine(folder, RankFileName), TiktokenRankFile.Format(_ranks));
        WriteAtomically(Path.Combine(folder, ConfigFileName), new TokenizerConfig(TokenizerConfig.CurrentVersion, Pattern, _specialTokens, VocabSize).ToJson());
    }

    /// <summary>
    /// Ids of ordinary text. Special-token parsing is OFF: "&lt;|im_end|&gt;" typed by a user becomes byte
    /// tokens. Lone surrogates are replaced by U+FFFD first (see <see cref="TextSanitizer"/>).
    /// </summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) return [];
        text = TextSanitizer.ReplaceLoneSurrogates(text);
        var ids = _text.EncodeToIds(text, considerPreTokenization: true, considerNormalization: false);
        return ids as int[] ?? ids.ToArray();
    }

    /// <summary>A pretraining document: its text followed by &lt;|endoftext|&gt;.</summary>
    public int[] EncodeDocument(string text)
    {
        int[] body = Encode(text);
        int[] ids = new int[body.Length + 1];
        body.CopyTo(ids, 0);
        ids[^1] = EndOfTextId;
        return ids;
    }

    /// <summary>Text of the ids; special ids come back as their names. Bytes that are not valid UTF-8 on their own become U+FFFD.</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        for (int i = 0; i < ids.Length; i++) CheckId(ids[i], i);
        return _decoder.Decode(ids.ToArray());
    }

    public RenderedChat RenderChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) => Template.Render(messages, addGenerationPrompt);

    public IStreamingDecoder CreateStreamingDecoder() => new Utf8StreamingDecoder(this);

    /// <summary>The bytes a token stands for (a special token's name in UTF-8).</summary>
    public ReadOnlySpan<byte> GetTokenBytes(int id)
    {
        CheckId(id, null);
        return id < _ranks.Length ? _ranks[id] : Encoding.UTF8.GetBytes(_specialNames[id - _ranks.Length]);
    }

    public bool IsSpecial(int id) => id >= _ranks.Length && id < VocabSize;

    private void CheckId(int id, int? position)
    {
        if ((uint)id >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException("ids", id, $"Token id {id}{(position is null ? "" : $" at position {position}")} is outside the vocabulary (0..{VocabSize - 1}).");
    }

    private static byte[] ReadFile(string path, string what)
    {
        try { return File.ReadAllBytes(path); }
        catch (FileNotFoundException ex) { throw new TokenizerFileException(path, null, $"{what} not found", ex); }
        catch (DirectoryNotFoundException ex) { throw new TokenizerFileException(path, null, $"{what} not found (no such folder)", ex); }
        catch (IOException ex) { throw new TokenizerFileException(path, null, $"{what} could not be read: {ex.Message}", ex); }
        catch (UnauthorizedAccessException ex) { throw new TokenizerFileException(path, null, $"{what} could not be read: {ex.Message}", ex); }
    }

    private static void WriteAtomically(string path, byte[] content)
    {
        string temp = path + ".tmp";
        File.WriteAllBytes(temp, content);
        File.Move(temp, path, overwrite: true);
    }
}
