using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Checkpoints;

/// <summary>AdamW's first and second moments, laid out like the parameters.</summary>
public sealed record OptimizerState(ParameterBuffer M, ParameterBuffer V);

/// <summary>Where a training run stands: enough to continue it exactly (same data order, same RNG).</summary>
public sealed record TrainerState
{
    public long Step { get; init; }
    public long DataPosition { get; init; }
    public ulong RngState { get; init; }
    public float LearningRate { get; init; }
    public string Stage { get; init; } = "pretrain";
    /// <summary>Stage-specific state (loss history, schedule, epoch…).</summary>
    public JsonObject? Extra { get; init; }
}

/// <summary>
/// A checkpoint is a folder: config.json, model.safetensors and, for training, optimizer.safetensors and
/// trainer_state.json. It is written into a sibling temp folder, each file flushed to disk, then renamed into
/// place, so a kill at any moment leaves either the previous checkpoint or the new one.
/// </summary>
public static class Checkpoint
{
    public const string ConfigFile = "config.json", ModelFile = "model.safetensors",
        OptimizerFile = "optimizer.safetensors", StateFile = "trainer_state.json";

    static readonly JsonSerializerOptions StateJson = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static void Save(string directory, ParameterBuffer parameters, TensorDType dtype = TensorDType.F32,
        OptimizerState? optimizer = null, TrainerState? state = null)
    {
        directory = Path.GetFullPath(directory.TrimEnd('/', '\\'));
        string temp = directory + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(temp);
        try
        {
            WriteSynced(Path.Combine(temp, ConfigFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(parameters.Layout.Config.ToJson())));
            var meta = new Dictionary<string, string> { ["format"] = "chatforge", ["parameters"] = parameters.Layout.ParameterCount.ToString(CultureInfo.InvariantCulture) };
            WriteSynced(Path.Combine(temp, ModelFile), s => SafeTensorsWriter.Write(s, TensorsOf(parameters, "", dtype), meta));
            if (optimizer is not null)
            {
                var moments = TensorsOf(optimizer.M, "exp_avg.", TensorDType.F32).Concat(TensorsOf(optimizer.V, "exp_avg_sq.", TensorDType.F32)).ToList();
                WriteSynced(Path.Combine(temp, OptimizerFile), s => SafeTensorsWriter.Write(s, moments));
            }
            if (state is not null)
                WriteSynced(Path.Combine(temp, StateFile), s => JsonSerializer.Serialize(s, state, StateJson));

            // Swap folders: the old checkpoint (if any) is moved aside first and deleted only after the new one is in place.
            string? old = null;
            if (Directory.Exists(directory))
            {
                old = directory + ".old-" + Guid.NewGuid().ToString("N")[..8];
                Directory.Move(directory, old);
            }
            Directory.Move(temp, directory);
            if (old is not null) Directory.Delete(old, recursive: true);
        }
        catch
        {
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    static void WriteSynced(string path, Action<FileStream> write)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        write(stream);
        stream.Flush(flushToDisk: true);
    }

    static List<TensorToWrite> TensorsOf(ParameterBuffer buffer, string prefix, TensorDType dtype) =>
        buffer.Layout.Tensors
            .DistinctBy(t => t.Offset) // a tied LM head is the embedding: store it once
            .Select(t => new TensorToWrite(prefix + t.Name, t.Shape.Select(s => (long)s).ToArray(),
                buffer.Data.AsMemory((int)buffer.OffsetOf(t), (int)t.Length), dtype))
            .ToList();

    /// <summary>Loads config.json and model.safetensors; every tensor of the layout must be present with its exact shape.</summary>
    public static ParameterBuffer LoadParameters(string directory)
    {
        var config = ModelConfig.Load(Path.Combine(directory, ConfigFile));
        var parameters = new ParameterBuffer(new ParameterLayout(config));
        ReadInto(Path.Combine(directory, ModelFile), parameters, "");
        return parameters;
    }

    /// <summary>Loads the optimizer moments and trainer state saved next to the weights.</summary>
    public static (OptimizerState Optimizer, TrainerState State) LoadTraining(string directory, ParameterLayout layout)
    {
        var m = new ParameterBuffer(layout);
        var v = new ParameterBuffer(layout);
        string optimizerPath = Path.Combine(directory, OptimizerFile);
        ReadInto(optimizerPath, m, "exp_avg.");
        ReadInto(optimizerPath, v, "exp_avg_sq.");

        string statePath = Path.Combine(directory, StateFile);
        if (!File.Exists(statePath)) throw new FileNotFoundException($"Trainer state not found: {statePath}", statePath);
        TrainerState? state;
        try { state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(statePath), StateJson); }
        catch (JsonException e) { throw new InvalidDataException($"{statePath}: not a valid trainer state ({e.Message}).", e); }
        if (state is null || state.Step < 0) throw new InvalidDataException($"{statePath}: not a valid trainer state.");
        return (new OptimizerState(m, v), state);
    }

    static void ReadInto(string path, ParameterBuffer buffer, string prefix)
    {
        using var file = SafeTensorsFile.Open(path);
        var expected = buffer.Layout.Tensors.DistinctBy(t => t.Offset).ToList();
        foreach (var slot in expected)
        {
            string name = prefix + slot.Name;
            if (!file.Tensors.TryGetValue(name, out var info))
                throw new InvalidDataException($"{path}: tensor '{name}' is missing.");
            if (!info.Shape.SequenceEqual(slot.Shape.Select(s => (long)s)))
                throw new InvalidDataException($"{path}: tensor '{name}' has shape {info.ShapeText} but the config needs {slot.ShapeText}.");
            file.ReadAsFloat32(info, buffer[slot]);
        }
        var known = expected.Select(t => prefix + t.Name).ToHashSet();
        var unexpected = file.Tensors.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !known.Contains(k)).ToList();
        if (prefix.Length == 0 && unexpected.Count > 0)
            throw new InvalidDataException($"{path}: unexpected tensor(s) not in the config: {string.Join(", ", unexpected.Take(5))}.");
    }

    /// <summary>Checkpoint folders under a run are named step-00001234; the highest complete one wins.</summary>
    public static string StepDirectory(string checkpointsRoot, long step) =>
        Path.Combine(checkpointsRoot, "step-" + step.ToString("D8", CultureInfo.InvariantCulture));

    public static string? FindLatest(string checkpointsRoot) =>
        StepDirectories(checkpointsRoot).Where(d => File.Exists(Path.Combine(d, ModelFile))).FirstOrDefault();

    /// <summary>Deletes all but the newest <paramref name="keep"/> step folders, so long runs don't fill the disk.</summary>
    public static void Prune(string checkpointsRoot, int keep)
    {
        foreach (var dir in StepDirectories(checkpointsRoot).Skip(keep))
            Directory.Delete(dir, recursive: true);
    }

    /// <summary>Complete step folders, newest first (temp and old folders of an interrupted save are not checkpoints).</summary>
    static IEnumerable<string> StepDirectories(string checkpointsRoot)
    {
        if (!Directory.Exists(checkpointsRoot)) return [];
        return Directory.EnumerateDirectories(checkpointsRoot, "step-*")
            .Where(d => Path.GetFileName(d) is { Length: 13 } name && long.TryParse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .OrderByDescending(Path.GetFileName, StringComparer.Ordinal);
    }
}
