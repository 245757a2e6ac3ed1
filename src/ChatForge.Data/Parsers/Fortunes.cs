using System.Text;
using ChatForge.Data.Sources;
using ChatForge.Data.Text;

namespace ChatForge.Data.Parsers;

/// <summary>fortune(6) files: records separated by lines holding a single '%'. Colour codes (fortunes-zh) are stripped.</summary>
public static class Fortunes
{
    public static List<string> Parse(string text)
    {
        var records = new List<string>();
        var sb = new StringBuilder();
        foreach (var line in text.Replace("\r\n", "\n").Split('\n'))
        {
            if (line.TrimEnd() == "%") { Flush(); continue; }
            sb.Append(line).Append('\n');
        }
        Flush();
        return records;

        void Flush()
        {
            var r = TextCleaner.NormalizeWhitespace(TextCleaner.StripAnsi(sb.ToString()));
            if (r.Length > 0) records.Add(r);
            sb.Clear();
        }
    }

    public static List<string> Load(string path)
    {
        var bytes = File.ReadAllBytes(path);
        string text;
        try { text = new UTF8Encoding(false, true).GetString(bytes); }
        catch (DecoderFallbackException) { text = Encoding.Latin1.GetString(bytes); } // a few old fortune files are Latin-1
        if (!TextCleaner.LooksLikeText(TextCleaner.StripAnsi(text))) throw new DataSourceException($"{path}: not a text fortune file (binary or corrupt).");
        return Parse(text);
    }
}
