using System.Text.RegularExpressions;
using ChatForge.Data.Sources;

namespace ChatForge.Data.Parsers;

/// <summary>chinese-lexicon's statistics/hsk.js: "let hsk = [[level 1 words], [level 2 words], …]"; returns word → level (1-6).</summary>
public static partial class Hsk
{
    [GeneratedRegex(@"\[([^\[\]]*)\]")] private static partial Regex Level();
    [GeneratedRegex(@"""([^""]+)""")] private static partial Regex Word();

    public static Dictionary<string, int> Parse(string js, string fileName)
    {
        var levels = new Dictionary<string, int>();
        int level = 0;
        foreach (Match m in Level().Matches(js))
        {
            var words = Word().Matches(m.Groups[1].Value).Select(w => w.Groups[1].Value).ToList();
            if (words.Count == 0) continue;
            level++;
            foreach (var w in words) levels.TryAdd(w, level);
        }
        if (levels.Count < 100) throw new DataSourceException($"{fileName}: expected HSK word lists, found {levels.Count} words (corrupt or truncated file?).");
        return levels;
    }

    public static Dictionary<string, int> Load(string path) =>
        File.Exists(path) ? Parse(File.ReadAllText(path), path) : throw new DataSourceException($"{path}: HSK list not found; run `data fetch`.");
}
