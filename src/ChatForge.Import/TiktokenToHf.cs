using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ChatForge.Tokenizer;

namespace ChatForge.Import;

/// <summary>
/// Writes ChatForge's tiktoken-style tokenizer as a Hugging Face tokenizer.json (byte-level BPE) and
/// tokenizer_config.json (ChatML template). A rank table has no merge list, so each token's merge is
/// recovered the way transformers' tiktoken converter does: BPE the token's bytes with only the lower
/// ranks allowed; the two parts left are its merge. The pre-split regex is rewritten from .NET syntax to
/// Oniguruma's (what the tokenizers library runs): block names become code-point ranges and class
/// subtraction [a-[b]] becomes intersection [a&amp;&amp;[^b]].
/// </summary>
public static class TiktokenToHf
{
    public static void Write(ChatTokenizer tokenizer, string folder)
    {
        int ranks = tokenizer.RankCount;
        var tokens = new string[ranks];
        var rankOf = new Dictionary<string, int>(StringComparer.Ordinal);
        var vocab = new JsonObject();
        for (int id = 0; id < ranks; id++)
        {
            tokens[id] = ByteLevel.ToText(tokenizer.GetTokenBytes(id));
            rankOf[tokens[id]] = id;
            vocab[tokens[id]] = id;
        }
        var merges = new JsonArray();
        for (int id = 0; id < ranks; id++)
        {
            if (tokens[id].Length < 2) continue;
            var parts = Bpe(tokens[id], rankOf, maxRank: id);
            if (parts.Count != 2) throw new InvalidDataException($"Token {id} cannot be built from two lower-ranked tokens; the rank table is not a BPE table.");
            merges.Add(parts[0] + " " + parts[1]);
        }
        var added = new JsonArray();
        foreach (var (name, id) in tokenizer.SpecialTokenIds.OrderBy(t => t.Value))
            added.Add(new JsonObject { ["id"] = id, ["content"] = name, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true });
        var json = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added, ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = ToOniguruma(tokenizer.Pattern) }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false }),
            },
            ["post_processor"] = null,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "", ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["vocab"] = vocab, ["merges"] = merges,
            },
        };
        var options = new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, HfTokenizer.TokenizerFile), json.ToJsonString(options));
        var config = new JsonObject
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["eos_token"] = SpecialTokens.ImEnd,
            ["pad_token"] = SpecialTokens.EndOfText,
            ["model_max_length"] = 1 << 20,
            ["chat_template"] = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
        };
        File.WriteAllText(Path.Combine(folder, HfTokenizer.TokenizerConfigFile), config.ToJsonString(options));
    }

    /// <summary>Byte-pair merges over the token's characters using only ranks below <paramref name="maxRank"/>.</summary>
    static List<string> Bpe(string token, Dictionary<string, int> rankOf, int maxRank)
    {
        var parts = token.Select(c => c.ToString()).ToList();
        while (parts.Count > 2)
        {
            int best = -1, bestRank = maxRank;
            for (int i = 0; i + 1 < parts.Count; i++)
                if (rankOf.TryGetValue(parts[i] + parts[i + 1], out int r) && r < bestRank) { bestRank = r; best = i; }
            if (best < 0) break;
            parts[best] += parts[best + 1];
            parts.RemoveAt(best + 1);
        }
        return parts;
    }

    static readonly (string Name, string Range)[] Blocks =
    [
        ("IsCJKUnifiedIdeographsExtensionA", @"\x{3400}-\x{4DBF}"),
        ("IsCJKUnifiedIdeographs", @"\x{4E00}-\x{9FFF}"),
        ("IsCJKCompatibilityIdeographs", @"\x{F900}-\x{FAFF}"),
    ];

    /// <summary>.NET regex → Oniguruma: Unicode block names → ranges, [a-[b]] → [a&amp;&amp;[^b]].</summary>
    public static string ToOniguruma(string pattern)
    {
        foreach (var (name, range) in Blocks) pattern = pattern.Replace(@"\p{" + name + "}", range, StringComparison.Ordinal);
        return Regex.Replace(pattern, @"\[([^\[\]]+)-\[([^\[\]]+)\]\]", "[$1&&[^$2]]");
    }

    /// <summary>Oniguruma → .NET (the inverse of <see cref="ToOniguruma"/>, applied when reading a tokenizer.json).</summary>
    public static string FromOniguruma(string pattern)
    {
        pattern = Regex.Replace(pattern, @"\[([^\[\]]+)&&\[\^([^\[\]]+)\]\]", "[$1-[$2]]");
        return Regex.Replace(pattern, @"\\x\{([0-9A-Fa-f]{1,4})\}", m => @"\u" + m.Groups[1].Value.PadLeft(4, '0'));
    }
}
