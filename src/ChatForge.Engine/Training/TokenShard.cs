using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace ChatForge.Engine.Training;

/// <summary>
/// A file of token ids, read through a memory map so a corpus larger than RAM costs nothing to open.
/// Format (little-endian): 16-byte header — magic "CFTK", uint32 version (1), uint32 bytes per token
/// (2 for vocabularies up to 65,536, else 4), uint32 vocab size — then the tokens back to back.
/// Documents are separated by the tokenizer's &lt;|endoftext|&gt; id, written by the producer.
/// </summary>
public sealed unsafe class TokenShard : IDisposable
{
    public const int HeaderSize = 16;
    static ReadOnlySpan<byte> Magic => "CFTK"u8;

    public string Path { get; }
    public long Count { get; }
    public int BytesPerToken { get; }
    public int VocabSize { get; }

    readonly MemoryMappedFile? _map;
    readonly MemoryMappedViewAccessor? _view;
    readonly byte* _tokens;

    TokenShard(string path, long count, int bytesPerToken, int vocabSize, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* tokens)
    {
        Path = path; Count = count; BytesPerToken = bytesPerToken; VocabSize = vocabSize;
        _map = map; _view = view; _tokens = tokens;
    }

    /// <summary>Opens and validates a shard; errors name the file and the problem.</summary>
    public static TokenShard Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Token shard not found: {path}", path);
        long length = new FileInfo(path).Length;
        if (length < HeaderSize) throw new InvalidDataException($"{path}: truncated token shard ({length} bytes, header needs {HeaderSize}).");

        Span<byte> header = stackalloc byte[HeaderSize];
        using (var stream = File.OpenRead(path)) stream.ReadExactly(header);
        if (!header[..4].SequenceEqual(Magic)) throw new InvalidDataException($"{path}: not a token shard (bad magic).");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (version != 1) throw new InvalidDataException($"{path}: unsupported token shard version {version} (expected 1).");
        int bytesPerToken = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (bytesPerToken is not (2 or 4)) throw new InvalidDataException($"{path}: bytes per token must be 2 or 4, got {bytesPerToken}.");
        int vocabSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (vocabSize <= 0 || (bytesPerToken == 2 && vocabSize > 65536)) throw new InvalidDataException($"{path}: invalid vocab size {vocabSize} for {bytesPerToken}-byte tokens.");
        if ((length - HeaderSize) % bytesPerToken != 0) throw new InvalidDataException($"{path}: truncated token shard (payload of {length - HeaderSize} bytes is not a whole number of {bytesPerToken}-byte tokens).");

        long count = (length - HeaderSize) / bytesPerToken;
        if (count == 0) return new TokenShard(path, 0, bytesPerToken, vocabSize, null, null, null);
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        byte* basePtr = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        return new TokenShard(path, count, bytesPerToken, vocabSize, map, view, basePtr + view.PointerOffset + HeaderSize);
    }

    public int this[long index]
    {
        get
        {
            if ((ulong)index >= (ulong)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"{Path} holds {Count} tokens.");
            return BytesPerToken == 2
                ? BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(_tokens + index * 2, 2))
                : (int)BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(_tokens + index * 4, 4));
        }
    }

    /// <summary>Copies tokens [start, start + destination.Length) into destination, checking each id against the vocab size.</summary>
    public void Read(long start, Span<int> destination)
    {
        if (start < 0 || start + destination.Length > Count)
            throw new ArgumentOutOfRangeException(nameof(start), $"{Path}: tokens [{start}, {start + destination.Length}) are outside the shard's {Count} tokens.");
        for (int i = 0; i < destination.Length; i++)
        {
            int id = this[start + i];
            if (id >= VocabSize) throw new InvalidDataException($"{Path}: token {id} at position {start + i} is outside the vocabulary ({VocabSize}).");
            destination[i] = id;
        }
    }

    public void Dispose()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }

    /// <summary>Writes a shard atomically (temp file, flush to disk, rename).</summary>
    public static void Write(string path, ReadOnlySpan<int> tokens, int vocabSize)
    {
        if (vocabSize <= 0) throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, "Vocab size must be positive.");
        int bytesPerToken = vocabSize <= 65536 ? 2 : 4;
        var bytes = new byte[HeaderSize + (long)tokens.Length * bytesPerToken];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)bytesPerToken);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), (uint)vocabSize);
        for (int i = 0; i < tokens.Length; i++)
        {
            int id = tokens[i];
            if ((uint)id >= (uint)vocabSize) throw new ArgumentException($"Token {id} at index {i} is outside the vocabulary ({vocabSize}).", nameof(tokens));
            var slot = bytes.AsSpan(HeaderSize + i * bytesPerToken);
            if (bytesPerToken == 2) BinaryPrimitives.WriteUInt16LittleEndian(slot, (ushort)id);
            else BinaryPrimitives.WriteUInt32LittleEndian(slot, (uint)id);
        }
        AtomicFile.WriteAllBytes(path, bytes);
    }
}
