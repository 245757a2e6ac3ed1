using System.Text.Json;
using ChatForge.Engine.Checkpoints;

namespace ChatForge.Import;

/// <summary>
/// The safetensors files of a Hugging Face model folder, memory-mapped: model.safetensors, or the shards
/// listed by model.safetensors.index.json ("weight_map": tensor name → shard file). Every shard is opened
/// and every index entry checked before anything is read, so a missing or mismatched shard fails up front.
/// </summary>
public sealed class HfSafeTensorSet : IDisposable
{
    public const string SingleFile = "model.safetensors", IndexFile = "model.safetensors.index.json";

    readonly List<SafeTensorsFile> _files = new();
    readonly Dictionary<string, (SafeTensorsFile File, SafeTensorInfo Info)> _tensors = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => _tensors.Keys;
    public IReadOnlyList<SafeTensorsFile> Files => _files;

    HfSafeTensorSet() { }

    public static HfSafeTensorSet Open(string folder)
    {
        string index = Path.Combine(folder, IndexFile), single = Path.Combine(folder, SingleFile);
        var set = new HfSafeTensorSet();
        try
        {
            if (File.Exists(index)) set.OpenSharded(folder, index);
            else if (File.Exists(single)) set.Add(SafeTensorsFile.Open(single));
            else if (Directory.EnumerateFiles(folder, "*.safetensors").ToList() is { Count: > 0 } loose)
                foreach (var path in loose.Order(StringComparer.Ordinal)) set.Add(SafeTensorsFile.Open(path));
            else if (File.Exists(Path.Combine(folder, "pytorch_model.bin")))
                throw new NotSupportedException($"{folder}: only pytorch_model.bin was found; pickled PyTorch checkpoints are not read (supported: *.safetensors, with {IndexFile} when sharded).");
            else throw new FileNotFoundException($"{folder}: no {SingleFile}, {IndexFile} or other *.safetensors file.", single);
            return set;
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    void OpenSharded(string folder, string indexPath)
    {
        Dictionary<string, string> weightMap;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(indexPath));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{indexPath}: no \"weight_map\" object.");
            weightMap = map.EnumerateObject().ToDictionary(p => p.Name,
                p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw new InvalidDataException($"{indexPath}: weight_map entry '{p.Name}' is not a file name."));
        }
        catch (JsonException e) { throw new InvalidDataException($"{indexPath}: not valid JSON ({e.Message}).", e); }

        var shards = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        foreach (string shard in weightMap.Values.Distinct().Order(StringComparer.Ordinal))
        {
            if (shard.Contains('/') || shard.Contains('\\') || shard.StartsWith('.'))
                throw new InvalidDataException($"{indexPath}: shard name '{shard}' must be a plain file name in the model folder.");
            string path = Path.Combine(folder, shard);
            if (!File.Exists(path))
            {
                string example = weightMap.First(kv => kv.Value == shard).Key;
                throw new FileNotFoundException($"{indexPath}: shard '{shard}' (holding '{example}' and others) is missing from {folder}.", path);
            }
            var file = SafeTensorsFile.Open(path);
            shards[shard] = file;
            Add(file);
        }
        foreach (var (name, shard) in weightMap)
            if (!shards[shard].Tensors.ContainsKey(name))
                throw new InvalidDataException($"{indexPath}: '{name}' is listed in shard '{shard}', which does not contain it.");
    }

    void Add(SafeTensorsFile file)
    {
        _files.Add(file);
        foreach (var (name, info) in file.Tensors)
            if (!_tensors.TryAdd(name, (file, info)))
                throw new InvalidDataException($"Tensor '{name}' appears in both {_tensors[name].File.Path} and {file.Path}.");
    }

    public bool TryGet(string name, out SafeTensorsFile file, out SafeTensorInfo info)
    {
        bool found = _tensors.TryGetValue(name, out var entry);
        (file, info) = (entry.File, entry.Info);
        return found;
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _files.Clear();
    }
}
