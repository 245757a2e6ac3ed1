using System.Text;
using System.Text.Json;

namespace ChatForge.Import;

/// <summary>Metaspace pre-tokenizer: spaces → replacement, a replacement prepended ("always", or "first" at the start of the input), split before each replacement.</summary>
internal sealed record Metaspace(char Replacement, string PrependScheme, bool Split);

/// <summary>
/// The parts of a SentencePiece-style tokenizer.json around its BPE model: the normaliser, the pre-tokenizer,
/// the decoder and the post-processor's BOS, read into what <see cref="SentencePieceBpeTokenizer"/> applies.
/// A step we do not implement is refused by name rather than skipped, since skipping it would change the ids.
/// </summary>
internal static class SentencePieceJson
{
    const char Space = '\u2581';

    /// <summary>Normaliser steps in order: Prepend (to non-empty text), Replace of a plain string, NFC/NFKC.</summary>
    public static List<Func<string, string>> Normalizers(JsonElement root, string path)
    {
        var steps = new List<Func<string, string>>();
        if (!root.TryGetProperty("normalizer", out var n) || n.ValueKind == JsonValueKind.Null) return steps;
        foreach (var step in Steps(n, "normalizers"))
        {
            string kind = TypeOf(step);
            steps.Add(kind switch
            {
                "Prepend" => step.GetProperty("prepend").GetString() is string p ? s => s.Length == 0 ? s : p + s : throw Unsupported(path, "normalizer", kind),
                "Replace" => ReplaceStep(step, path, "normalizer"),
                "NFC" => s => s.Normalize(NormalizationForm.FormC),
                "NFKC" => s => s.Normalize(NormalizationForm.FormKC),
                _ => throw Unsupported(path, "normalizer", kind),
            });
        }
        return steps;
    }

    static Func<string, string> ReplaceStep(JsonElement step, string path, string where)
    {
        if (!step.TryGetProperty("pattern", out var p) || !p.TryGetProperty("String", out var from) || from.GetString() is not { Length: > 0 } f)
            throw new NotSupportedException($"{path}: {where} Replace without a plain \"String\" pattern is not supported.");
        string to = step.GetProperty("content").GetString() ?? "";
        return s => s.Replace(f, to, StringComparison.Ordinal);
    }

    /// <summary>None (the whole normalised text is one pre-token) or Metaspace, alone or as the only step of a Sequence.</summary>
    public static Metaspace? PreTokenizer(JsonElement root, string path)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind == JsonValueKind.Null) return null;
        var steps = Steps(pre, "pretokenizers").ToList();
        if (steps.Count != 1 || TypeOf(steps[0]) != "Metaspace")
            throw new NotSupportedException($"{path}: pre-tokenizer {string.Join(", ", steps.Select(TypeOf))} is not supported for a SentencePiece-style BPE (supported: none, Metaspace).");
        var m = steps[0];
        return new Metaspace(Replacement(m), PrependScheme(m), !m.TryGetProperty("split", out var split) || split.ValueKind != JsonValueKind.False);
    }

    static char Replacement(JsonElement metaspace) =>
        metaspace.TryGetProperty("replacement", out var r) && r.GetString() is { Length: 1 } s ? s[0] : Space;

    /// <summary>prepend_scheme, or the older add_prefix_space (true = "always").</summary>
    static string PrependScheme(JsonElement metaspace) =>
        metaspace.TryGetProperty("prepend_scheme", out var p) && p.GetString() is string scheme ? scheme
        : metaspace.TryGetProperty("add_prefix_space", out var a) && a.ValueKind == JsonValueKind.False ? "never" : "always";

    /// <summary>
    /// What the decoder does to each id's bytes: the character it turns back into a space, whether &lt;0xNN&gt;
    /// tokens are bytes (ByteFallback; always so with byte_fallback, a byte token has no other meaning), and
    /// how many leading spaces of the decoded text it strips (Strip start, or 1 for Metaspace with a prepend).
    /// </summary>
    public static (char? ReplaceSpace, bool ByteFallback, int Strip) Decoder(JsonElement root, string path)
    {
        char? replace = null;
        bool byteFallback = false;
        int strip = 0;
        if (!root.TryGetProperty("decoder", out var d) || d.ValueKind == JsonValueKind.Null) return (replace, byteFallback, strip);
        foreach (var step in Steps(d, "decoders"))
        {
            string kind = TypeOf(step);
            switch (kind)
            {
                case "Replace" when step.TryGetProperty("pattern", out var p) && p.TryGetProperty("String", out var s) && s.GetString() is { Length: 1 } from
                                    && step.GetProperty("content").GetString() == " ":
                    replace = from[0]; break;
                case "ByteFallback": byteFallback = true; break;
                case "Fuse": break;
                case "Strip" when step.GetProperty("content").GetString() == " " && step.GetProperty("stop").GetInt32() == 0:
                    strip = step.GetProperty("start").GetInt32(); break;
                case "Metaspace":
                    replace = Replacement(step);
                    if (PrependScheme(step) != "never") strip = 1;
                    break;
                default: throw Unsupported(path, "decoder", kind);
            }
        }
        return (replace, byteFallback, strip);
    }

    /// <summary>The special token a TemplateProcessing post-processor puts before the text ("&lt;s&gt;" for Llama), if any.</summary>
    public static string? PostProcessorBos(JsonElement root)
    {
        if (!root.TryGetProperty("post_processor", out var post) || post.ValueKind != JsonValueKind.Object) return null;
        foreach (var step in Steps(post, "processors"))
            if (TypeOf(step) == "TemplateProcessing" && step.TryGetProperty("single", out var single) && single.ValueKind == JsonValueKind.Array
                && single.GetArrayLength() > 0 && single[0].TryGetProperty("SpecialToken", out var special))
                return special.GetProperty("id").GetString();
        return null;
    }

    static IEnumerable<JsonElement> Steps(JsonElement e, string listName) =>
        TypeOf(e) == "Sequence" && e.TryGetProperty(listName, out var list) ? list.EnumerateArray() : [e];

    static string TypeOf(JsonElement e) => e.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";

    static NotSupportedException Unsupported(string path, string where, string kind) =>
        new($"{path}: {where} '{kind}' is not supported for a SentencePiece-style BPE tokenizer.");
}
