using System.Globalization;
using System.Text.Json.Nodes;

namespace ChatForge.Engine.Training;

/// <summary>
/// The token shards of a pretraining corpus: &lt;dir&gt;/train/*.bin and &lt;dir&gt;/val/*.bin (sorted by name, so the
/// order — and therefore the data order of a seeded run — does not depend on the file system). Opening checks
/// every shard up front, so a missing or corrupt file is reported before any training starts.
/// </summary>
public sealed class PretrainData : IDisposable
{
    public string Directory { get; }
    public IReadOnlyList<TokenShard> Train { get; }
    public IReadOnlyList<TokenShard> Validation { get; }
    /// <summary>Largest vocabulary any shard declares; the model's vocab_size must be at least this.</summary>
    public int VocabSize { get; }
    /// <summary>Tokens per byte of UTF-8 text, for bits per byte; read from manifest.json ("tokens_per_byte") when present.</summary>
    public double? TokensPerByte { get; }

    PretrainData(string directory, List<TokenShard> train, List<TokenShard> validation, double? tokensPerByte)
    {
        Directory = directory; Train = train; Validation = validation; TokensPerByte = tokensPerByte;
        VocabSize = train.Concat(validation).Max(s => s.VocabSize);
    }

    public static PretrainData Open(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"Data directory not found: {directory}");
        var train = OpenSplit(directory, "train");
        List<TokenShard> validation;
        try { validation = OpenSplit(directory, "val"); }
        catch { foreach (var s in train) s.Dispose(); throw; }
        return new PretrainData(directory, train, validation, ReadTokensPerByte(directory));
    }

    static List<TokenShard> OpenSplit(string directory, string split)
    {
        string dir = Path.Combine(directory, split);
        if (!System.IO.Directory.Exists(dir))
            throw new DirectoryNotFoundException($"Data directory {directory} has no '{split}' folder (expected {dir}/*.bin token shards).");
        var files = System.IO.Directory.GetFiles(dir, "*.bin").OrderBy(f => f, StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FileNotFoundException($"No token shards (*.bin) in {dir}.");
        var shards = new List<TokenShard>();
        try
        {
            foreach (var file in files) shards.Add(TokenShard.Open(file));
        }
        catch { foreach (var s in shards) s.Dispose(); throw; }
        long total = shards.Sum(s => s.Count);
        if (total == 0) throw new InvalidDataException($"The token shards in {dir} are all empty ({files.Count} file(s), 0 tokens).");
        return shards;
    }

    static double? ReadTokensPerByte(string directory)
    {
        string path = Path.Combine(directory, "manifest.json");
        if (!File.Exists(path)) return null;
        try
        {
            var value = JsonNode.Parse(File.ReadAllText(path))?["tokens_per_byte"];
            return value is null ? null : value.GetValue<double>();
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: not valid JSON with a numeric \"tokens_per_byte\" ({e.Message}).", e);
        }
    }

    public void Dispose()
    {
        foreach (var s in Train) s.Dispose();
        foreach (var s in Validation) s.Dispose();
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Directory}: train {Train.Count} shard(s) {Train.Sum(s => s.Count):N0} tokens, val {Validation.Count} shard(s) {Validation.Sum(s => s.Count):N0} tokens");
}
