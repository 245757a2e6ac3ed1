using System.Text.Json.Nodes;

namespace ChatForge.Import.Gguf;

/// <summary>
/// A GGUF SentencePiece tokenizer (tokenizer.ggml.model = "llama": tokens, scores, token types 1 normal,
/// 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte) as a Llama-2-style tokenizer.json. llama.cpp merges
/// the adjacent pair whose concatenation is a piece with the highest score; the equivalent BPE merges are
/// every split of a piece into two pieces, ordered by the piece's score (highest first) and, among splits of
/// one piece, by the parts' ids — what transformers' SentencePieceExtractor writes when it converts
/// tokenizer.model, so the result matches the model's own tokenizer.json.
/// </summary>
internal static class GgufSentencePiece
{
    const string Space = "\u2581";
    const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    public static JsonObject TokenizerJson(GgufFile file, string[] tokens, int[] types)
    {
        if (!file.Metadata.TryGetValue("tokenizer.ggml.scores", out var s) || s is not object[] scoreValues || scoreValues.Length == 0)
            throw new InvalidDataException($"{file.Path}: tokenizer.ggml.scores is missing; a \"llama\" (SentencePiece) tokenizer ranks its merges by the pieces' scores.");
        if (scoreValues.Length != tokens.Length)
            throw new InvalidDataException($"{file.Path}: tokenizer.ggml.scores has {scoreValues.Length} entries for {tokens.Length} tokens.");
        var scores = scoreValues.Select(Convert.ToSingle).ToArray();

        var vocab = new JsonObject();
        var added = new JsonArray();
        var normal = new Dictionary<string, int>(StringComparer.Ordinal);
        int byteTokens = 0, unk = -1;
        for (int id = 0; id < tokens.Length; id++)
        {
            if (!vocab.ContainsKey(tokens[id])) vocab[tokens[id]] = id;
            if (types[id] == Normal) normal.TryAdd(tokens[id], id);
            else if (types[id] == Byte) byteTokens++;
            else if (types[id] is Unknown or Control or UserDefined or Unused)
            {
                // Added tokens are matched by id only: typed text never becomes <s> or </s>.
                if (types[id] == Unknown) unk = id;
                added.Add(new JsonObject { ["id"] = id, ["content"] = tokens[id], ["special"] = types[id] != UserDefined, ["normalized"] = false });
            }
        }
        if (byteTokens is not (0 or 256))
            throw new InvalidDataException($"{file.Path}: tokenizer.ggml.token_type marks {byteTokens} byte tokens; byte fallback needs all 256 (<0x00>…<0xFF>).");
        if (byteTokens == 0 && unk < 0)
            throw new InvalidDataException($"{file.Path}: the \"llama\" tokenizer has neither byte tokens (type 6) nor an unknown token (type 2), so characters outside the vocab could not be encoded.");

        bool addSpacePrefix = Flag(file, "tokenizer.ggml.add_space_prefix", true);
        var normalizers = new JsonArray();
        if (addSpacePrefix) normalizers.Add(new JsonObject { ["type"] = "Prepend", ["prepend"] = Space });
        normalizers.Add(Replace(" ", Space));
        var decoders = new JsonArray(Replace(Space, " "), new JsonObject { ["type"] = "ByteFallback" }, new JsonObject { ["type"] = "Fuse" });
        if (addSpacePrefix) decoders.Add(new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 });

        return new JsonObject
        {
            ["version"] = "1.0", ["added_tokens"] = added,
            ["normalizer"] = new JsonObject { ["type"] = "Sequence", ["normalizers"] = normalizers },
            ["pre_tokenizer"] = null,
            ["post_processor"] = PostProcessor(file, tokens),
            ["decoder"] = new JsonObject { ["type"] = "Sequence", ["decoders"] = decoders },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["unk_token"] = unk >= 0 ? tokens[unk] : null, ["fuse_unk"] = true, ["byte_fallback"] = byteTokens == 256,
                ["vocab"] = vocab, ["merges"] = new JsonArray(Merges(file.Path, tokens, scores, normal).Select(m => (JsonNode)m).ToArray()),
            },
        };
    }

    /// <summary>Every split (left, right) of a normal piece into two normal pieces: by the piece's score, highest first, then by (left id, right id).</summary>
    static List<string> Merges(string path, string[] tokens, float[] scores, Dictionary<string, int> normal)
    {
        var merges = new List<(float Score, int Piece, int Left, int Right)>();
        foreach (var (piece, id) in normal)
        {
            for (int k = 1; k < piece.Length; k++)
            {
                if (char.IsLowSurrogate(piece[k])) continue; // never split a character
                if (normal.TryGetValue(piece[..k], out int l) && normal.TryGetValue(piece[k..], out int r)) merges.Add((scores[id], id, l, r));
            }
        }
        merges.Sort((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Piece != b.Piece ? a.Piece.CompareTo(b.Piece) : a.Left != b.Left ? a.Left.CompareTo(b.Left) : a.Right.CompareTo(b.Right));
        if (merges.Count == 0) throw new InvalidDataException($"{path}: the \"llama\" tokenizer's pieces give no merges (no normal piece splits into two other normal pieces).");
        return merges.Select(m => tokens[m.Left] + " " + tokens[m.Right]).ToList();
    }

    /// <summary>TemplateProcessing that puts the BOS token first, when add_bos_token (default true) and a bos id are set.</summary>
    static JsonObject? PostProcessor(GgufFile file, string[] tokens)
    {
        if (!Flag(file, "tokenizer.ggml.add_bos_token", true) || !file.Metadata.TryGetValue("tokenizer.ggml.bos_token_id", out var b)) return null;
        int bos = Convert.ToInt32(b);
        if ((uint)bos >= (uint)tokens.Length) throw new InvalidDataException($"{file.Path}: tokenizer.ggml.bos_token_id {bos} is outside the {tokens.Length} tokens.");
        JsonObject Special() => new() { ["SpecialToken"] = new JsonObject { ["id"] = tokens[bos], ["type_id"] = 0 } };
        return new JsonObject
        {
            ["type"] = "TemplateProcessing",
            ["single"] = new JsonArray(Special(), new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
            ["special_tokens"] = new JsonObject { [tokens[bos]] = new JsonObject { ["id"] = tokens[bos], ["ids"] = new JsonArray(bos), ["tokens"] = new JsonArray(tokens[bos]) } },
        };
    }

    static JsonObject Replace(string from, string to) =>
        new() { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = from }, ["content"] = to };

    static bool Flag(GgufFile file, string key, bool fallback) => file.Metadata.TryGetValue(key, out var v) && v is bool b ? b : fallback;
}
