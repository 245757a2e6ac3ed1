using System.Text;
using System.Text.Json;
using ChatForge.Data.Dialogues;

namespace ChatForge.Training.Formats;

/// <summary>
/// Reads JSON Lines files strictly: invalid UTF-8, malformed JSON or a record that fails validation stops the
/// read with an error naming the file and line, so a bad export never trains silently on half its data.
/// Blank lines are skipped.
/// </summary>
public static class Jsonl
{
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static List<T> Read<T>(string path, Func<T, string?> validate)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"JSONL file not found: {path}", path);
        var records = new List<T>();
        using var reader = new StreamReader(path, StrictUtf8, detectEncodingFromByteOrderMarks: false);
        int lineNumber = 0;
        while (true)
        {
            string? line;
            try { line = reader.ReadLine(); }
            catch (DecoderFallbackException e) { throw new InvalidDataException($"{path}:{lineNumber + 1}: invalid UTF-8 ({e.Message}).", e); }
            if (line is null) break;
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            T? record;
            try { record = JsonSerializer.Deserialize<T>(line, ChatForge.Data.Jsonl.Options); }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{lineNumber}: malformed JSON ({e.Message}).", e); }
            if (record is null) throw new InvalidDataException($"{path}:{lineNumber}: null record.");
            if (validate(record) is { } problem) throw new InvalidDataException($"{path}:{lineNumber}: {problem}.");
            records.Add(record);
        }
        return records;
    }

    public static List<SftRecord> ReadSft(string path) => Read<SftRecord>(path, RecordValidation.Check);
    public static List<RankingRecord> ReadRankings(string path) => Read<RankingRecord>(path, RecordValidation.Check);
    public static List<EvalRecord> ReadEval(string path) => Read<EvalRecord>(path, RecordValidation.Check);

    /// <summary>Writes records one per line, atomically (temp file then rename).</summary>
    public static void Write<T>(string path, IEnumerable<T> records)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temp = path + ".tmp";
        using (var writer = new StreamWriter(temp, false, new UTF8Encoding(false)))
            foreach (var record in records) writer.WriteLine(JsonSerializer.Serialize(record, ChatForge.Data.Jsonl.Options));
        File.Move(temp, path, overwrite: true);
    }
}
