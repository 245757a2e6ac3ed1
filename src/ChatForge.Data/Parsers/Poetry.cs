using System.Text.Json;
using ChatForge.Data.Sources;
using ChatForge.Data.Text;

namespace ChatForge.Data.Parsers;

/// <summary>A poem after cleaning: simplified characters, notes removed; Clauses are the half-lines ("床前明月光").</summary>
public sealed record Poem(string Collection, string Title, string Author, IReadOnlyList<string> Lines)
{
    public string Text => string.Join("\n", Lines);

    /// <summary>Half-lines split at Chinese punctuation, without the punctuation.</summary>
    public IReadOnlyList<string> Clauses => Lines.SelectMany(l => l.Split(ClausePunctuation, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();

    public static readonly char[] ClausePunctuation = ['，', '。', '？', '！', '；', '、', '：', ',', '.', '?', '!', ';'];
}

/// <summary>
/// chinese-poetry JSON. Handles the shapes in the package: flat arrays of {title|rhythmic|chapter, author, paragraphs|content},
/// and the nested 唐诗三百首 of mengxue ({content:[{type, content:[{chapter, author, paragraphs}]}]}).
/// </summary>
public static class Poetry
{
    public static List<Poem> Load(string path, string collection, ChineseConverter? t2s)
    {
        if (!File.Exists(path)) throw new DataSourceException($"{path}: poetry file not found; run `data fetch`.");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new DataSourceException($"{path}: invalid JSON ({e.Message}); corrupt or truncated file.", e); }
        using (doc) return Parse(doc.RootElement, collection, t2s, path);
    }

    public static List<Poem> Parse(JsonElement root, string collection, ChineseConverter? t2s, string fileName)
    {
        var poems = new List<Poem>();
        try { Walk(root, collection, t2s, poems, null); }
        catch (InvalidOperationException e) { throw new DataSourceException($"{fileName}: unexpected JSON shape ({e.Message}).", e); }
        return poems;
    }

    static void Walk(JsonElement e, string collection, ChineseConverter? t2s, List<Poem> poems, string? section)
    {
        if (e.ValueKind == JsonValueKind.Array) { foreach (var item in e.EnumerateArray()) Walk(item, collection, t2s, poems, section); return; }
        if (e.ValueKind != JsonValueKind.Object) return;
        var lines = Strings(e, "paragraphs") ?? Strings(e, "content");
        if (lines is null)
        {
            if (e.TryGetProperty("content", out var inner) && inner.ValueKind == JsonValueKind.Array) Walk(inner, collection, t2s, poems, Str(e, "type") ?? section);
            return;
        }
        var title = Str(e, "title") ?? Str(e, "rhythmic") ?? Str(e, "chapter") ?? "";
        var author = Str(e, "author") ?? "";
        if (title.Length == 0 || lines.Count == 0) return;
        var poem = Clean(collection, title, author, lines, t2s);
        if (poem is not null) poems.Add(poem);
    }

    /// <summary>Joins the lines, strips notes (which may straddle lines), converts to simplified, drops poems with gaps.</summary>
    public static Poem? Clean(string collection, string title, string author, IReadOnlyList<string> rawLines, ChineseConverter? t2s)
    {
        var text = TextCleaner.StripPoemNotes(string.Join("\n", rawLines));
        if (TextCleaner.HasGap(text) || TextCleaner.HasGap(title)) return null;
        if (t2s is not null) { text = t2s.Convert(text); title = t2s.Convert(title); author = t2s.Convert(author); }
        title = TextCleaner.StripPoemNotes(title).Trim();
        var lines = text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Any(c => c > 0x3000)).ToList();
        // A note that stood alone on a line leaves a fragment without closing punctuation: join it to the previous line.
        var merged = new List<string>();
        foreach (var l in lines)
        {
            if (merged.Count > 0 && !"。？！；，".Contains(merged[^1][^1])) merged[^1] += l;
            else merged.Add(l);
        }
        if (merged.Count == 0 || title.Length == 0) return null;
        return new Poem(collection, title, author.Trim(), merged);
    }

    static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    static List<string>? Strings(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.Array) return null;
        var list = new List<string>();
        foreach (var x in v.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.String) return null;
            list.Add(x.GetString()!);
        }
        return list;
    }
}
