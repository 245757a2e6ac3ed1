using ChatForge.Engine.Model;

namespace ChatForge.Import;

/// <summary>A model read from a Hugging Face folder: its family and its weights in our layout.</summary>
public sealed record ImportedModel(HfFamily Family, ParameterBuffer Parameters, HfConfigReader HfConfig);

/// <summary>
/// Reads a Hugging Face model folder (config.json + safetensors, sharded or not) into our parameter layout.
/// Everything is checked first — architecture, config, every tensor's presence and shape, no unknown
/// tensors — and only then is the parameter buffer allocated and filled, so a bad folder loads nothing.
/// Tensors are read straight from the memory-mapped files into the buffer (BF16/F16 widened on the way).
/// </summary>
public static class HfImporter
{
    public const string ConfigFile = "config.json";

    /// <summary>The family and our <see cref="ModelConfig"/> for a folder's config.json, without reading any weights.</summary>
    public static (HfFamily Family, ModelConfig Config, HfConfigReader Raw) ReadConfig(string folder, ImportOptions? options = null)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Model folder not found: {folder}");
        var raw = HfConfigReader.Load(Path.Combine(folder, ConfigFile));
        var family = HfFamily.ForArchitecture(raw.Architecture(), raw.Source);
        var config = family.ToModelConfig(raw, options ?? new ImportOptions());
        try { config.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{raw.Source}: {e.Message}", e); }
        return (family, config, raw);
    }

    public static ImportedModel Load(string folder, ImportOptions? options = null)
    {
        var (family, config, raw) = ReadConfig(folder, options);
        var layout = new ParameterLayout(config);
        var maps = family.Tensors(layout);
        using var set = HfSafeTensorSet.Open(folder);

        var byCanonical = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in set.Names) byCanonical[family.CanonicalName(name)] = name;

        foreach (var map in maps)
        {
            if (!byCanonical.TryGetValue(map.HfName, out string? fileName))
                throw new InvalidDataException($"{folder}: tensor '{map.HfName}' {map.HfShapeText} is missing (needed by {raw.Source} as {family.Architecture}).");
            set.TryGet(fileName, out var file, out var info);
            if (!info.Shape.SequenceEqual(map.HfShape.Select(s => (long)s)))
                throw new InvalidDataException($"{file.Path}: tensor '{fileName}' has shape {info.ShapeText} but {raw.Source} needs {map.HfShapeText}.");
        }
        var mapped = maps.Select(m => m.HfName).ToHashSet(StringComparer.Ordinal);
        var unexpected = byCanonical.Keys.Where(n => !mapped.Contains(n) && !family.IsIgnorable(n)).Order(StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
            throw new InvalidDataException($"{folder}: tensor(s) not used by a {family.Architecture} with this config.json: {string.Join(", ", unexpected.Take(5))}{(unexpected.Count > 5 ? $" and {unexpected.Count - 5} more" : "")}.");

        var parameters = new ParameterBuffer(layout);
        foreach (var map in maps)
        {
            set.TryGet(byCanonical[map.HfName], out var file, out var info);
            var slot = parameters[map.Slot];
            int count = (int)info.ElementCount;
            if (!map.Transposed)
            {
                file.ReadAsFloat32(info, slot.Slice(map.RowOffset * map.RowLength, count));
                continue;
            }
            // Conv1D [in, out] → Linear [out, in].
            var stored = new float[count];
            file.ReadAsFloat32(info, stored);
            int inDim = map.HfShape[0], outDim = map.HfShape[1];
            for (int i = 0; i < inDim; i++)
                for (int o = 0; o < outDim; o++) slot[o * inDim + i] = stored[i * outDim + o];
        }
        return new ImportedModel(family, parameters, raw);
    }
}
