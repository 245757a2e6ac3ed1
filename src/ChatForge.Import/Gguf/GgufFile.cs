using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text;

namespace ChatForge.Import.Gguf;

/// <summary>ggml tensor types this reader dequantises (values as in ggml.h).</summary>
public enum GgmlType : uint { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, Q4_K = 12, Q6_K = 14, BF16 = 30 }

public sealed record GgufTensorInfo(string Name, long[] Shape, GgmlType Type, long Offset, long Bytes)
{
    /// <summary>GGUF lists dimensions fastest-varying first: ne[0] is the row length.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// A GGUF file (versions 2 and 3): magic "GGUF", version, tensor and metadata counts, metadata key/values,
/// tensor infos, then the tensor data aligned to general.alignment (default 32). The header is parsed with
/// bounds checks on every length so a truncated or corrupted file fails with a message naming the field;
/// the data is memory-mapped.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    public string Path { get; }
    public uint Version { get; }
    public IReadOnlyDictionary<string, object> Metadata { get; }
    public IReadOnlyDictionary<string, GgufTensorInfo> Tensors { get; }

    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _data;

    GgufFile(string path, uint version, Dictionary<string, object> metadata, Dictionary<string, GgufTensorInfo> tensors, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* data)
    {
        Path = path; Version = version; Metadata = metadata; Tensors = tensors; _map = map; _view = view; _data = data;
    }

    public static GgufFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"GGUF file not found: {path}", path);
        long length = new FileInfo(path).Length;
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        byte* basePtr = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        basePtr += view.PointerOffset;
        try
        {
            var r = new Reader(new ReadOnlySpan<byte>(basePtr, checked((int)Math.Min(length, int.MaxValue))), path);
            if (length < 4 || r.U32("magic") != 0x46554747) throw new InvalidDataException($"{path}: not a GGUF file (magic is not \"GGUF\").");
            uint version = r.U32("version");
            if (version is not (2 or 3)) throw new NotSupportedException($"{path}: GGUF version {version} is not supported (supported: 2, 3).");
            long tensorCount = r.Count("tensor_count"), kvCount = r.Count("metadata_kv_count");
            var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
            for (long i = 0; i < kvCount; i++)
            {
                string key = r.String("metadata key");
                metadata[key] = r.Value(r.U32($"type of {key}"), key);
            }
            var infos = new List<(string Name, long[] Shape, GgmlType Type, long Offset)>();
            for (long i = 0; i < tensorCount; i++)
            {
                string name = r.String("tensor name");
                uint dims = r.U32($"n_dims of {name}");
                if (dims is 0 or > 4) throw new InvalidDataException($"{path}: tensor '{name}' has {dims} dimensions (1..4 allowed).");
                var shape = new long[dims];
                for (int d = 0; d < dims; d++) shape[d] = r.Count($"dimension {d} of {name}");
                uint type = r.U32($"type of {name}");
                if (!Enum.IsDefined(typeof(GgmlType), type))
                    throw new NotSupportedException($"{path}: tensor '{name}' has ggml type {type}, which is not supported (supported: {string.Join(", ", Enum.GetNames<GgmlType>())}).");
                infos.Add((name, shape, (GgmlType)type, (long)r.U64($"offset of {name}")));
            }
            long alignment = metadata.TryGetValue("general.alignment", out var a) ? Convert.ToInt64(a) : 32;
            if (alignment <= 0 || (alignment & (alignment - 1)) != 0) throw new InvalidDataException($"{path}: general.alignment {alignment} is not a power of two.");
            long dataStart = (r.Position + alignment - 1) / alignment * alignment;
            var tensors = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal);
            foreach (var (name, shape, type, offset) in infos)
            {
                var info = new GgufTensorInfo(name, shape, type, offset, GgufBlocks.ByteCount(type, shape, name));
                if (offset % alignment != 0 || dataStart + offset + info.Bytes > length)
                    throw new InvalidDataException($"{path}: tensor '{name}' {info.ShapeText} {type} needs bytes [{offset}, {offset + info.Bytes}) of the data section, which has {length - dataStart} bytes (truncated or corrupted file).");
                if (!tensors.TryAdd(name, info)) throw new InvalidDataException($"{path}: tensor '{name}' is listed twice.");
            }
            return new GgufFile(path, version, metadata, tensors, map, view, basePtr + dataStart);
        }
        catch
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
            map.Dispose();
            throw;
        }
    }

    /// <summary>The tensor's raw blocks, straight from the memory map.</summary>
    public ReadOnlySpan<byte> GetBytes(GgufTensorInfo info) => new(_data + info.Offset, checked((int)info.Bytes));

    /// <summary>Dequantises a whole tensor into float32 (row-major, ne[0] fastest).</summary>
    public void ReadAsFloat32(GgufTensorInfo info, Span<float> destination)
    {
        if (destination.Length != info.ElementCount)
            throw new ArgumentException($"{Path}: tensor '{info.Name}' has {info.ElementCount} elements {info.ShapeText}, destination holds {destination.Length}.");
        GgufBlocks.Dequantize(info.Type, GetBytes(info), destination);
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    /// <summary>Little-endian cursor over the header; every read checks the remaining length.</summary>
    ref struct Reader(ReadOnlySpan<byte> bytes, string path)
    {
        readonly ReadOnlySpan<byte> _bytes = bytes;
        public long Position;

        ReadOnlySpan<byte> Take(long n, string what)
        {
            if (n < 0 || Position + n > _bytes.Length) throw new InvalidDataException($"{path}: truncated GGUF header while reading {what} at byte {Position}.");
            var s = _bytes.Slice((int)Position, (int)n);
            Position += n;
            return s;
        }

        public uint U32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
        public ulong U64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));
        public long Count(string what)
        {
            ulong v = U64(what);
            return v <= int.MaxValue ? (long)v : throw new InvalidDataException($"{path}: {what} is {v}, implausibly large (corrupted header).");
        }
        public string String(string what) => Encoding.UTF8.GetString(Take(Count(what + " length"), what));

        public object Value(uint type, string key) => type switch
        {
            0 => Take(1, key)[0],
            1 => (sbyte)Take(1, key)[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, key)),
            3 => BinaryPrimitives.ReadInt16LittleEndian(Take(2, key)),
            4 => U32(key),
            5 => BinaryPrimitives.ReadInt32LittleEndian(Take(4, key)),
            6 => BinaryPrimitives.ReadSingleLittleEndian(Take(4, key)),
            7 => Take(1, key)[0] != 0,
            8 => String(key),
            9 => Array(key),
            10 => U64(key),
            11 => BinaryPrimitives.ReadInt64LittleEndian(Take(8, key)),
            12 => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, key)),
            _ => throw new InvalidDataException($"{path}: metadata '{key}' has unknown value type {type}."),
        };

        object[] Array(string key)
        {
            uint itemType = U32(key + " item type");
            long count = Count(key + " item count");
            var items = new object[count];
            for (long i = 0; i < count; i++) items[i] = Value(itemType, key);
            return items;
        }
    }
}
