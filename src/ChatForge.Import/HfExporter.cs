using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Model;

namespace ChatForge.Import;

/// <summary>
/// Writes a model in the Hugging Face layout of its family (<see cref="HfFamily.ForModel"/>): config.json
/// with the right "architectures", safetensors with the family's tensor names (sharded with an index above
/// <c>maxShardBytes</c>), so transformers, vLLM and llama.cpp's converter read it unchanged. The folder is
/// written under a temporary name and renamed into place.
/// </summary>
public static class HfExporter
{
    public static HfFamily Export(ParameterBuffer parameters, string folder, TensorDType dtype = TensorDType.BF16, long maxShardBytes = 4L << 30)
    {
        if (dtype == TensorDType.F16) throw new NotSupportedException("Export writes F32 or BF16 weights.");
        var config = parameters.Layout.Config;
        var family = HfFamily.ForModel(config);
        var maps = family.Tensors(parameters.Layout);
        int elementSize = SafeTensorsFile.ElementSize(dtype);

        // Greedy shards in table order (embeddings, then layer by layer), each at most maxShardBytes unless one tensor is larger.
        var shards = new List<List<TensorToWrite>> { new() };
        long shardBytes = 0, totalBytes = 0;
        foreach (var map in maps)
        {
            long bytes = (long)map.HfShape.Aggregate(1L, (a, b) => a * b) * elementSize;
            if (shardBytes > 0 && shardBytes + bytes > maxShardBytes) { shards.Add(new()); shardBytes = 0; }
            shards[^1].Add(new TensorToWrite(map.HfName, map.HfShape.Select(s => (long)s).ToArray(), Values(parameters, map), dtype));
            shardBytes += bytes;
            totalBytes += bytes;
        }

        folder = Path.GetFullPath(folder.TrimEnd('/', '\\'));
        string temp = folder + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(temp);
        try
        {
            string torchDtype = dtype == TensorDType.BF16 ? "bfloat16" : "float32";
            File.WriteAllText(Path.Combine(temp, HfImporter.ConfigFile), family.ToHfConfig(config, torchDtype).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            var metadata = new Dictionary<string, string> { ["format"] = "pt" };
            if (shards.Count == 1) Write(Path.Combine(temp, HfSafeTensorSet.SingleFile), shards[0], metadata);
            else
            {
                var weightMap = new JsonObject();
                for (int s = 0; s < shards.Count; s++)
                {
                    string name = string.Create(CultureInfo.InvariantCulture, $"model-{s + 1:D5}-of-{shards.Count:D5}.safetensors");
                    Write(Path.Combine(temp, name), shards[s], metadata);
                    foreach (var t in shards[s]) weightMap[t.Name] = name;
                }
                var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = totalBytes }, ["weight_map"] = weightMap };
                File.WriteAllText(Path.Combine(temp, HfSafeTensorSet.IndexFile), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            Directory.Move(temp, folder);
        }
        catch
        {
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { }
            throw;
        }
        return family;
    }

    static void Write(string path, List<TensorToWrite> tensors, Dictionary<string, string> metadata)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        SafeTensorsWriter.Write(stream, tensors, metadata);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>The HF tensor's values: a view of our rows, or a transposed copy for GPT-2's Conv1D [in, out].</summary>
    static ReadOnlyMemory<float> Values(ParameterBuffer parameters, HfTensorMap map)
    {
        int count = map.HfShape.Aggregate(1, (a, b) => a * b);
        var rows = parameters.Data.AsMemory((int)parameters.OffsetOf(map.Slot) + map.RowOffset * map.RowLength, map.Transposed ? (int)map.Slot.Length : count);
        if (!map.Transposed) return rows;
        int inDim = map.HfShape[0], outDim = map.HfShape[1];
        var source = rows.Span;
        var stored = new float[count];
        for (int o = 0; o < outDim; o++)
            for (int i = 0; i < inDim; i++) stored[i * outDim + o] = source[o * inDim + i];
        return stored;
    }
}
