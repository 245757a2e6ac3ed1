using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Inference;

/// <summary>How a <see cref="KvCache"/> holds keys and values.</summary>
public enum KvFormat
{
    F32,
    /// <summary>Half the bytes of float32, a relative error of 2⁻⁹ per key and value.</summary>
    Bf16,
    /// <summary>A quarter of float32's bytes (plus one float scale per position and kv head): each head's values rounded to absmax/127 steps.</summary>
    Int8,
}

/// <summary>
/// Keys and values of every past position, per layer: K and V each [slots, maxT, Hkv·hd], row-major, so one
/// sequence's history is contiguous. Stored as float32, bf16 or int8 (<see cref="Format"/>): decode reads the whole
/// cache of every sequence at every step, so at long contexts and larger batches the cache, not the weights, is
/// most of the bytes moved; bf16 halves them (and the memory), int8 quarters them, with one scale per position and
/// kv head ([slots, maxT, Hkv], <see cref="KeyScales"/>).
/// A sequence owns one slot from Allocate until Free; Length(slot) is how many positions of that slot hold valid
/// keys and values.
/// </summary>
public sealed class KvCache
{
    readonly float[][]? _keys, _values;
    readonly ushort[][]? _keysBf16, _valuesBf16;
    readonly sbyte[][]? _keysInt8, _valuesInt8;
    readonly float[][]? _keyScales, _valueScales;
    readonly int[] _length;
    readonly bool[] _inUse;
    readonly Stack<int> _free = new();

    public int Layers { get; }
    public int Slots { get; }
    public int MaxT { get; }
    /// <summary>Floats per position per layer: Hkv·hd.</summary>
    public int KvDim { get; }
    public int FreeSlots => _free.Count;
    public int KvHeads { get; }
    public int HeadDim { get; }
    public KvFormat Format { get; }
    /// <summary>True when keys and values are held as bf16 (read them through <see cref="KeysBf16"/>).</summary>
    public bool IsBf16 => Format == KvFormat.Bf16;
    public long Bytes => 2L * Layers * Slots * MaxT * Format switch
    {
        KvFormat.F32 => KvDim * sizeof(float),
        KvFormat.Bf16 => KvDim * sizeof(ushort),
        _ => KvDim + KvHeads * sizeof(float),
    };

    /// <summary>"auto" (null: the model's default), "bf16", "int8" or "f32", as options and settings spell it; <paramref name="option"/> names the setting in the error.</summary>
    public static KvFormat? ParseFormat(string value, string option) => value.ToLowerInvariant() switch
    {
        "auto" => null, "bf16" => KvFormat.Bf16, "int8" => KvFormat.Int8, "f32" => KvFormat.F32,
        _ => throw new ArgumentException($"{option}: unknown KV cache format '{value}' (expected auto, bf16, int8 or f32)."),
    };

    public KvCache(ModelConfig config, int slots, int maxT, bool bf16 = false) : this(config, slots, maxT, bf16 ? KvFormat.Bf16 : KvFormat.F32) { }

    public KvCache(ModelConfig config, int slots, int maxT, KvFormat format)
    {
        config.Validate();
        if (slots <= 0) throw new ArgumentOutOfRangeException(nameof(slots), slots, "KV cache: slots must be positive.");
        if (maxT <= 0 || maxT > config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(maxT), maxT, $"KV cache: maxT must be in [1, context length {config.ContextLength}].");
        Layers = config.NumLayers;
        Slots = slots;
        MaxT = maxT;
        KvDim = config.NumKvHeads * config.HeadDim;
        KvHeads = config.NumKvHeads;
        HeadDim = config.HeadDim;
        long perLayer = (long)slots * maxT * KvDim;
        if (perLayer > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(slots), $"KV cache: {slots} slots × {maxT} positions × {KvDim} floats exceeds one array per layer; use fewer slots or a shorter maxT.");
        Format = format;
        switch (format)
        {
            case KvFormat.F32: (_keys, _values) = (PerLayer<float>(perLayer), PerLayer<float>(perLayer)); break;
            case KvFormat.Bf16: (_keysBf16, _valuesBf16) = (PerLayer<ushort>(perLayer), PerLayer<ushort>(perLayer)); break;
            case KvFormat.Int8:
                (_keysInt8, _valuesInt8) = (PerLayer<sbyte>(perLayer), PerLayer<sbyte>(perLayer));
                long scales = (long)slots * maxT * KvHeads;
                (_keyScales, _valueScales) = (PerLayer<float>(scales), PerLayer<float>(scales));
                break;
            default: throw new ArgumentOutOfRangeException(nameof(format), format, "KV cache: unknown format.");
        }
        _length = new int[slots];
        _inUse = new bool[slots];
        for (int s = slots - 1; s >= 0; s--) _free.Push(s);
    }

    /// <summary>One pinned array per layer (the kernels read them through pointers).</summary>
    T[][] PerLayer<T>(long length) where T : unmanaged =>
        Enumerable.Range(0, Layers).Select(_ => GC.AllocateUninitializedArray<T>((int)length, pinned: true)).ToArray();

    public Span<float> Keys(int layer) => (_keys ?? throw WrongFormat())[layer];
    public Span<float> Values(int layer) => (_values ?? throw WrongFormat())[layer];
    public Span<ushort> KeysBf16(int layer) => (_keysBf16 ?? throw WrongFormat())[layer];
    public Span<ushort> ValuesBf16(int layer) => (_valuesBf16 ?? throw WrongFormat())[layer];
    public Span<sbyte> KeysInt8(int layer) => (_keysInt8 ?? throw WrongFormat())[layer];
    public Span<sbyte> ValuesInt8(int layer) => (_valuesInt8 ?? throw WrongFormat())[layer];
    /// <summary>The int8 keys' scales, [slots, maxT, Hkv]: key (slot, position, head h) = KeysInt8 · KeyScales[(slot·maxT + position)·Hkv + h].</summary>
    public Span<float> KeyScales(int layer) => (_keyScales ?? throw WrongFormat())[layer];
    public Span<float> ValueScales(int layer) => (_valueScales ?? throw WrongFormat())[layer];

    InvalidOperationException WrongFormat() => new(Format switch
    {
        KvFormat.Bf16 => "KV cache: this cache holds bf16 keys and values; use KeysBf16/ValuesBf16.",
        KvFormat.Int8 => "KV cache: this cache holds int8 keys and values; use KeysInt8/ValuesInt8 with KeyScales/ValueScales.",
        _ => "KV cache: this cache holds float32 keys and values; use Keys/Values.",
    });

    /// <summary>Writes one position's key and value (each KvDim floats) of a layer, rounded to the cache's format.</summary>
    public void Write(int layer, int slot, int position, ReadOnlySpan<float> key, ReadOnlySpan<float> value)
    {
        int at = Offset(slot, position);
        switch (Format)
        {
            case KvFormat.Bf16:
                Bf16.FromFloat(key[..KvDim], _keysBf16![layer].AsSpan(at, KvDim));
                Bf16.FromFloat(value[..KvDim], _valuesBf16![layer].AsSpan(at, KvDim));
                break;
            case KvFormat.Int8:
                int scaleAt = (slot * MaxT + position) * KvHeads;
                for (int h = 0; h < KvHeads; h++)
                {
                    _keyScales![layer][scaleAt + h] = Int8Vectors.Quantize(key.Slice(h * HeadDim, HeadDim), _keysInt8![layer].AsSpan(at + h * HeadDim, HeadDim));
                    _valueScales![layer][scaleAt + h] = Int8Vectors.Quantize(value.Slice(h * HeadDim, HeadDim), _valuesInt8![layer].AsSpan(at + h * HeadDim, HeadDim));
                }
                break;
            default:
                key[..KvDim].CopyTo(_keys![layer].AsSpan(at, KvDim));
                value[..KvDim].CopyTo(_values![layer].AsSpan(at, KvDim));
                break;
        }
    }

    /// <summary>Start of (slot, position) inside a layer's K or V array.</summary>
    public int Offset(int slot, int position) => (slot * MaxT + position) * KvDim;

    /// <summary>Takes a free slot (length 0), or returns -1 when every slot is in use.</summary>
    public int Allocate()
    {
        if (_free.Count == 0) return -1;
        int slot = _free.Pop();
        _inUse[slot] = true;
        _length[slot] = 0;
        return slot;
    }

    public void Free(int slot)
    {
        CheckInUse(slot);
        _inUse[slot] = false;
        _length[slot] = 0;
        _free.Push(slot);
    }

    public bool InUse(int slot) => (uint)slot < (uint)Slots && _inUse[slot];

    public int Length(int slot)
    {
        CheckInUse(slot);
        return _length[slot];
    }

    /// <summary>
    /// Sets how many positions of the slot are valid. Lowering it rolls the sequence back (the next forward
    /// overwrites from there); raising it is the forward pass's job after it wrote those positions.
    /// </summary>
    public void SetLength(int slot, int length)
    {
        CheckInUse(slot);
        if (length < 0 || length > MaxT) throw new ArgumentOutOfRangeException(nameof(length), length, $"KV cache: length must be in [0, {MaxT}].");
        _length[slot] = length;
    }

    void CheckInUse(int slot)
    {
        if ((uint)slot >= (uint)Slots) throw new ArgumentOutOfRangeException(nameof(slot), slot, $"KV cache: slot must be in [0, {Slots}).");
        if (!_inUse[slot]) throw new InvalidOperationException($"KV cache: slot {slot} is not allocated.");
    }
}
