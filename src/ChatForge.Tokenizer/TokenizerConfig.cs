using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ChatForge.Tokenizer;

/// <summary>
/// tokenizer.json: {"version":1,"pattern":"…","special_tokens":{"&lt;|endoftext|&gt;":id,…},"vocab_size":N}.
/// Read with Utf8JsonReader rather than a serializer so that every error can name its line.
/// </summary>
public sealed record TokenizerConfig(int Version, string Pattern, IReadOnlyDictionary<string, int> SpecialTokens, int VocabSize)
{
    public const int CurrentVersion = 1;

    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        // Relaxed escaping keeps the pattern readable ("\p{L}", "<|im_end|>" instead of \u003C…); the file is never embedded in HTML.
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteNumber("version", Version);
            json.WriteString("pattern", Pattern);
            json.WriteStartObject("special_tokens");
            foreach (var (name, id) in SpecialTokens.OrderBy(t => t.Value)) json.WriteNumber(name, id);
            json.WriteEndObject();
            json.WriteNumber("vocab_size", VocabSize);
            json.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    /// <summary>Parses tokenizer.json; <paramref name="path"/> is used in error messages. Semantic checks against the ranks are done by the caller.</summary>
    public static (TokenizerConfig Config, IReadOnlyDictionary<string, int> Lines) Parse(byte[] content, string path)
    {
        int[] lineStarts = LineStarts(content);
        int LineAt(long index) { int i = Array.BinarySearch(lineStarts, (int)index); return (i >= 0 ? i : ~i - 1) + 1; }

        int? version = null, vocabSize = null;
        string? pattern = null;
        Dictionary<string, int>? specials = null;
        var lines = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(content, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new TokenizerFileException(path, content.Length == 0 ? null : LineAt(reader.TokenStartIndex), "expected a JSON object");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                int line = LineAt(reader.TokenStartIndex);
                lines[name] = line;
                reader.Read();
                switch (name)
                {
                    case "version": version = ReadInt(ref reader, path, line, name); break;
                    case "vocab_size": vocabSize = ReadInt(ref reader, path, line, name); break;
                    case "pattern":
                        if (reader.TokenType != JsonTokenType.String) throw new TokenizerFileException(path, line, "\"pattern\" must be a string");
                        pattern = reader.GetString();
                        break;
                    case "special_tokens":
                        if (reader.TokenType != JsonTokenType.StartObject) throw new TokenizerFileException(path, line, "\"special_tokens\" must be an object of name → id");
                        specials = new Dictionary<string, int>(StringComparer.Ordinal);
                        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                        {
                            string token = reader.GetString()!;
                            int tokenLine = LineAt(reader.TokenStartIndex);
                            lines["special_tokens." + token] = tokenLine;
                            reader.Read();
                            int id = ReadInt(ref reader, path, tokenLine, $"special token {token}");
                            if (!specials.TryAdd(token, id)) throw new TokenizerFileException(path, tokenLine, $"special token {token} is listed twice");
                        }
                        break;
                    default:
                        reader.Skip(); // unknown fields are allowed (later versions may add some)
                        break;
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject)
                throw new TokenizerFileException(path, LineAt(reader.TokenStartIndex), "expected a property name or the end of the object");
            if (reader.Read()) throw new TokenizerFileException(path, LineAt(reader.TokenStartIndex), "unexpected content after the JSON object");
        }
        catch (JsonException ex)
        {
            throw new TokenizerFileException(path, ex.LineNumber is long l ? (int)l + 1 : null, $"not valid JSON: {ex.Message}", ex);
        }

        if (version is null) throw new TokenizerFileException(path, null, "missing \"version\"");
        if (version != CurrentVersion) throw new TokenizerFileException(path, lines["version"], $"version {version} is not supported (this build reads version {CurrentVersion})");
        if (pattern is null) throw new TokenizerFileException(path, null, "missing \"pattern\"");
        if (specials is null) throw new TokenizerFileException(path, null, "missing \"special_tokens\"");
        if (vocabSize is null) throw new TokenizerFileException(path, null, "missing \"vocab_size\"");
        return (new TokenizerConfig(version.Value, pattern, specials, vocabSize.Value), lines);
    }

    private static int ReadInt(ref Utf8JsonReader reader, string path, int line, string what)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int value))
            throw new TokenizerFileException(path, line, $"{what} must be an integer");
        return value;
    }

    private static int[] LineStarts(byte[] content)
    {
        var starts = new List<int> { 0 };
        for (int i = 0; i < content.Length; i++) if (content[i] == (byte)'\n') starts.Add(i + 1);
        return starts.ToArray();
    }
}
