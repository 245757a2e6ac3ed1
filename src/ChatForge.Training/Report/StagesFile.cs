using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace ChatForge.Training.Report;

/// <summary>One completed stage of a recipe run: where its output is, how long it took, what it measured.</summary>
public sealed record StageRecord
{
    public required string Name { get; init; }
    /// <summary>The stage's output: a model folder, a run folder or a data folder.</summary>
    public required string Output { get; init; }
    /// <summary>Wall time of the stage: the sum of <see cref="Segments"/> when it was interrupted and resumed.</summary>
    public double Seconds { get; init; }
    /// <summary>Seconds of each segment of a stage run in several (null: one segment).</summary>
    public List<double>? Segments { get; init; }
    public DateTimeOffset CompletedAt { get; init; } = DateTimeOffset.UtcNow;
    public Dictionary<string, double> Metrics { get; init; } = [];
    /// <summary>Free-form facts (data sizes, parameter counts, options) shown in the report card.</summary>
    public JsonObject? Details { get; init; }
}

/// <summary>
/// &lt;runs&gt;/stages.json: the completed stages of a recipe in order. A stage listed here whose output still exists is
/// skipped by `train --recipe`; the file is rewritten atomically after each stage.
/// </summary>
public sealed class StagesFile
{
    public const string FileName = "stages.json";
    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string Path { get; }
    public List<StageRecord> Stages { get; }

    StagesFile(string path, List<StageRecord> stages) { Path = path; Stages = stages; }

    public static StagesFile Load(string runsDirectory)
    {
        string path = System.IO.Path.Combine(runsDirectory, FileName);
        if (!File.Exists(path)) return new StagesFile(path, []);
        try
        {
            return new StagesFile(path, JsonSerializer.Deserialize<List<StageRecord>>(File.ReadAllText(path), Json) ?? []);
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a valid stages file ({e.Message}). Fix or delete it to rerun every stage.", e); }
    }

    public StageRecord? Find(string name) => Stages.LastOrDefault(s => s.Name == name);

    public void Complete(StageRecord record)
    {
        Stages.RemoveAll(s => s.Name == record.Name);
        Stages.Add(record);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        string temp = Path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(Stages, Json));
        File.Move(temp, Path, overwrite: true);
    }
}
