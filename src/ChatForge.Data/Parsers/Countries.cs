using System.Text.Json;
using ChatForge.Data.Sources;

namespace ChatForge.Data.Parsers;

public sealed record Country(string Code, string NameEn, string OfficialEn, string NameZh, IReadOnlyList<string> Capitals, string Region, string Subregion, bool Independent)
{
    /// <summary>Chinese capital name, found in CC-CEDICT ("巴黎 … /Paris, capital of France/"); null when CEDICT has none.</summary>
    public string? CapitalZh { get; init; }
}

/// <summary>world-countries countries.json: [{name:{common, official}, cca3, capital:[…], region, subregion, translations:{zho:{common}}}].</summary>
public static class Countries
{
    public static List<Country> Load(string path)
    {
        if (!File.Exists(path)) throw new DataSourceException($"{path}: countries file not found; run `data fetch`.");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return Parse(doc.RootElement, path);
        }
        catch (JsonException e) { throw new DataSourceException($"{path}: invalid JSON ({e.Message}); corrupt or truncated file.", e); }
    }

    public static List<Country> Parse(JsonElement root, string fileName)
    {
        if (root.ValueKind != JsonValueKind.Array) throw new DataSourceException($"{fileName}: expected a JSON array of countries.");
        var result = new List<Country>();
        foreach (var c in root.EnumerateArray())
        {
            try
            {
                var name = c.GetProperty("name");
                var zh = c.TryGetProperty("translations", out var t) && t.TryGetProperty("zho", out var z) ? z.GetProperty("common").GetString() ?? "" : "";
                var capitals = c.TryGetProperty("capital", out var cap) && cap.ValueKind == JsonValueKind.Array
                    ? cap.EnumerateArray().Select(x => x.GetString() ?? "").Where(x => x.Length > 0).ToList() : [];
                result.Add(new Country(c.GetProperty("cca3").GetString()!, name.GetProperty("common").GetString()!, name.GetProperty("official").GetString()!, zh,
                    capitals, c.TryGetProperty("region", out var r) ? r.GetString() ?? "" : "", c.TryGetProperty("subregion", out var s) ? s.GetString() ?? "" : "",
                    c.TryGetProperty("independent", out var ind) && ind.ValueKind == JsonValueKind.True));
            }
            catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException)
            {
                throw new DataSourceException($"{fileName}: country #{result.Count + 1} lacks name/cca3 ({e.Message}).", e);
            }
        }
        return result;
    }

    /// <summary>Fills CapitalZh from CEDICT glosses of the form "X, capital of Country".</summary>
    public static List<Country> WithChineseCapitals(List<Country> countries, IEnumerable<CedictEntry> cedict)
    {
        var byGloss = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var e in cedict)
            foreach (var g in e.Glosses)
            {
                int k = g.IndexOf(", capital of ", StringComparison.Ordinal);
                if (k > 0) byGloss.TryAdd(g[..k].Trim() + "|" + g[(k + 13)..].Trim(), e.Simplified);
            }
        return countries.Select(c =>
        {
            foreach (var cap in c.Capitals)
                foreach (var n in new[] { c.NameEn, c.OfficialEn })
                    if (byGloss.TryGetValue(cap + "|" + n, out var zh)) return c with { CapitalZh = zh };
            return c;
        }).ToList();
    }
}
