using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text.Json;
using ChatForge.Engine.Kernels;

namespace ChatForge.Engine.Checkpoints;

public enum TensorDType { F32, BF16, F16 }

/// <summary>One tensor's entry in a safetensors header: data offsets are relative to the start of the data section.</summary>
public sealed record SafeTensorInfo(string Name, TensorDType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// Reads a .safetensors file through a memory map: an 8-byte little-endian header length, a JSON header
/// mapping names to dtype, shape and byte offsets, then the raw little-endian data. Every offset and shape is
/// checked against the file size before any tensor is touched, so a truncated or corrupted file fails on
/// open with a message naming the file and the entry.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    /// <summary>Headers larger than this are treated as corruption rather than allocated.</summary>
    const long MaxHeaderBytes = 100L << 20;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _data;

    SafeTensorsFile(string path, Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata,
        MemoryMappedFile map, MemoryMappedViewAccessor view, byte* data)
    {
        Path = path; Tensors = tensors; Metadata = metadata; _map = map; _view = view; _data = data;
    }

    public static int ElementSize(TensorDType dtype) => dtype == TensorDType.F32 ? 4 : 2;

    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Safetensors file not found: {path}", path);
        long fileLength = new FileInfo(path).Length;
        if (fileLength < 8) throw new InvalidDataException($"{path}: truncated safetensors file ({fileLength} bytes; the header length alone needs 8).");

        Span<byte> lengthBytes = stackalloc byte[8];
        byte[] headerBytes;
        using (var stream = File.OpenRead(path))
        {
            stream.ReadExactly(lengthBytes);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            if (headerLength == 0 || headerLength > (ulong)Math.Min(MaxHeaderBytes, fileLength - 8))
                throw new InvalidDataException($"{path}: corrupted safetensors header length {headerLength} (file has {fileLength} bytes).");
            headerBytes = new byte[headerLength];
            stream.ReadExactly(headerBytes);
        }

        long dataStart = 8 + headerBytes.Length, dataLength = fileLength - dataStart;
        var (tensors, metadata) = ParseHeader(path, headerBytes, dataLength);

        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, fileLength, MemoryMappedFileAccess.Read);
        byte* basePtr = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        return new SafeTensorsFile(path, tensors, metadata, map, view, basePtr + view.PointerOffset + dataStart);
    }

    static (Dictionary<string, SafeTensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] headerBytes, long dataLength)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(headerBytes); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: safetensors header is not valid JSON ({e.Message}).", e); }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: safetensors header is not a JSON object.");
            var tensors = new Dictionary<string, SafeTensorInfo>();
            var metadata = new Dictionary<string, string>();
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    if (entry.Value.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: __metadata__ is not an object.");
                    foreach (var m in entry.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                tensors.Add(entry.Name, ParseEntry(path, entry, dataLength));
            }

            // Entries must not overlap: a corrupted header could otherwise alias two tensors.
            var ordered = tensors.Values.OrderBy(t => t.Begin).ToList();
            for (int i = 1; i < ordered.Count; i++)
                if (ordered[i].Begin < ordered[i - 1].End)
                    throw new InvalidDataException($"{path}: tensors '{ordered[i - 1].Name}' and '{ordered[i].Name}' overlap.");
            return (tensors, metadata);
        }
    }

    static SafeTensorInfo ParseEntry(string path, JsonProperty entry, long dataLength)
    {
        string name = entry.Name;
        try
        {
            var value = entry.Value;
            string dtypeText = value.GetProperty("dtype").GetString() ?? "";
            TensorDType dtype = dtypeText switch
            {
                "F32" => TensorDType.F32, "BF16" => TensorDType.BF16, "F16" => TensorDType.F16,
                _ => throw new InvalidDataException($"{path}: tensor '{name}' has unsupported dtype '{dtypeText}' (supported: F32, BF16, F16)."),
            };
            var shape = value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (shape.Any(s => s < 0)) throw new InvalidDataException($"{path}: tensor '{name}' has a negative dimension.");
            var offsets = value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (offsets.Length != 2) throw new InvalidDataException($"{path}: tensor '{name}' needs two data_offsets.");
            var info = new SafeTensorInfo(name, dtype, shape, offsets[0], offsets[1]);
            if (info.Begin < 0 || info.End < info.Begin || info.End > dataLength)
                throw new InvalidDataException($"{path}: tensor '{name}' spans bytes [{info.Begin}, {info.End}) but the data section has {dataLength} bytes (truncated or corrupted file).");
            long expected = info.ElementCount * ElementSize(dtype);
            if (info.End - info.Begin != expected)
                throw new InvalidDataException($"{path}: tensor '{name}' {info.ShapeText} {dtypeText} needs {expected} bytes but its offsets span {info.End - info.Begin}.");
            return info;
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: malformed header entry for tensor '{name}' ({e.Message}).", e);
        }
    }

    public SafeTensorInfo Get(string name) =>
        Tensors.TryGetValue(name, out var info) ? info : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'.");

    /// <summary>The tensor's raw bytes, straight from the memory map (no copy).</summary>
    public ReadOnlySpan<byte> GetBytes(SafeTensorInfo info) => new(_data + info.Begin, checked((int)(info.End - info.Begin)));

    /// <summary>Copies a tensor into float32, widening BF16/F16; destination must have exactly its element count.</summary>
    public void ReadAsFloat32(SafeTensorInfo info, Span<float> destination)
    {
        if (destination.Length != info.ElementCount)
            throw new ArgumentException($"{Path}: tensor '{info.Name}' has {info.ElementCount} elements {info.ShapeText}, destination holds {destination.Length}.");
        var bytes = GetBytes(info);
        // The format is little-endian, as is every CPU .NET runs this engine on, so the bytes are reinterpreted in place.
        switch (info.DType)
        {
            case TensorDType.F32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination);
                break;
            case TensorDType.BF16:
                Bf16.ToFloat(MemoryMarshal.Cast<byte, ushort>(bytes), destination);
                break;
            case TensorDType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), destination);
                break;
        }
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}

/// <summary>A tensor to write: float32 values stored as <paramref name="DType"/>.</summary>
public sealed record TensorToWrite(string Name, long[] Shape, ReadOnlyMemory<float> Values, TensorDType DType);

public static class SafeTensorsWriter
{
    /// <summary>Writes tensors in the given order to a stream; the header is padded with spaces to 8 bytes as the format recommends.</summary>
    public static void Write(Stream stream, IReadOnlyList<TensorToWrite> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var t in tensors)
        {
            long count = t.Shape.Aggregate(1L, (a, b) => a * b);
            if (count != t.Values.Length) throw new ArgumentException($"Tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}] ({count} elements) but {t.Values.Length} values.");
            if (t.DType == TensorDType.F16) throw new NotSupportedException($"Tensor '{t.Name}': writing F16 is not supported (use F32 or BF16).");
            long bytes = count * SafeTensorsFile.ElementSize(t.DType);
            header[t.Name] = new { dtype = t.DType.ToString(), shape = t.Shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padded = (json.Length + 7) / 8 * 8;
        Span<byte> lengthBytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)padded);
        stream.Write(lengthBytes);
        stream.Write(json);
        for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');

        var buffer = new byte[1 << 16];
        foreach (var t in tensors)
        {
            var values = t.Values.Span;
            int size = SafeTensorsFile.ElementSize(t.DType), perChunk = buffer.Length / size;
            for (int start = 0; start < values.Length; start += perChunk)
            {
                int n = Math.Min(perChunk, values.Length - start);
                for (int i = 0; i < n; i++)
                {
                    if (t.DType == TensorDType.F32) BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(4 * i), values[start + i]);
                    else BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(2 * i), Bf16.FromFloat(values[start + i]));
                }
                stream.Write(buffer, 0, n * size);
            }
        }
    }
}
