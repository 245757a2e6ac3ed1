namespace ChatForge.Data.Text;

/// <summary>
/// Traditional → simplified Chinese with OpenCC's t2s dictionaries (TSPhrases + TSCharacters, exported to text by
/// `data fetch`): longest phrase match first, then character by character, taking each entry's first candidate —
/// the same rule OpenCC's t2s configuration applies. Lines are "traditional\tcandidate[ candidate…]".
/// </summary>
public sealed class ChineseConverter
{
    readonly Dictionary<string, string> _phrases = new(StringComparer.Ordinal);
    readonly Dictionary<int, string> _chars = [];
    readonly int _maxPhrase;

    public ChineseConverter(IEnumerable<string> phraseLines, IEnumerable<string> characterLines, string phraseName = "phrases", string characterName = "characters")
    {
        Load(phraseLines, phraseName, (k, v) => { _phrases.TryAdd(k, v); });
        Load(characterLines, characterName, (k, v) =>
        {
            if (!char.IsSurrogate(k, 0) && k.Length == 1 || char.IsSurrogatePair(k, 0) && k.Length == 2) _chars.TryAdd(char.ConvertToUtf32(k, 0), v);
            else _phrases.TryAdd(k, v);
        });
        _maxPhrase = _phrases.Count == 0 ? 0 : _phrases.Keys.Max(k => k.Length);
    }

    public static ChineseConverter LoadFolder(string folder)
    {
        string phrases = Path.Combine(folder, "TSPhrases.txt"), chars = Path.Combine(folder, "TSCharacters.txt");
        foreach (var f in new[] { phrases, chars })
            if (!File.Exists(f)) throw new Sources.DataSourceException($"{f}: OpenCC dictionary missing; run `data fetch` (it exports it from libopencc).");
        return new ChineseConverter(File.ReadLines(phrases), File.ReadLines(chars), phrases, chars);
    }

    static void Load(IEnumerable<string> lines, string name, Action<string, string> add)
    {
        int n = 0;
        foreach (var line in lines)
        {
            n++;
            if (line.Length == 0 || line[0] == '#') continue;
            int tab = line.IndexOf('\t');
            if (tab <= 0 || tab == line.Length - 1)
                throw new Sources.DataSourceException($"{name}: line {n} is not 'traditional<TAB>simplified': \"{Truncate(line)}\"");
            var value = line[(tab + 1)..];
            int space = value.IndexOf(' ');
            add(line[..tab], space > 0 ? value[..space] : value);
        }
        if (n == 0) throw new Sources.DataSourceException($"{name}: empty dictionary (truncated file?).");
    }

    static string Truncate(string s) => s.Length > 40 ? s[..40] + "…" : s;

    public string Convert(string text)
    {
        var sb = new System.Text.StringBuilder(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            bool matched = false;
            for (int len = Math.Min(_maxPhrase, text.Length - i); len >= 2; len--)
            {
                if (_phrases.TryGetValue(text.Substring(i, len), out var simp)) { sb.Append(simp); i += len; matched = true; break; }
            }
            if (matched) continue;
            int cp = char.IsSurrogatePair(text, i) ? char.ConvertToUtf32(text, i) : text[i];
            int width = cp > 0xFFFF ? 2 : 1;
            if (cp >= 0x3400 && _chars.TryGetValue(cp, out var s)) sb.Append(s);
            else sb.Append(text, i, width);
            i += width;
        }
        return sb.ToString();
    }
}
