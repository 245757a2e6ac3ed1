using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Inference;

/// <summary>How the inference model holds its matmul weights.</summary>
public enum WeightFormat
{
    /// <summary>float32, read straight from the parameter buffer (no copy).</summary>
    F32,
    /// <summary>bfloat16 copies: decode is memory-bound, so half the bytes is close to twice the tokens/s.</summary>
    Bf16,
    /// <summary>int8 with a float scale per output row: a quarter of fp32's bytes, at a larger (≤ 1/254 of the row's largest weight) rounding error.</summary>
    Int8,
    /// <summary>ggml's Q8_0: int8 in blocks of 32 weights with an fp16 scale each (34 bytes per 32 weights), multiplied as int8 dot products; a GGUF Q8_0 file keeps its exact blocks.</summary>
    Q8_0,
}

public static class WeightFormats
{
    public const string Names = "bf16, f32, int8 or q8_0";

    /// <summary>Parses a --weights value; <paramref name="option"/> names the setting in the error.</summary>
    public static WeightFormat Parse(string value, string option = "--weights") => value.ToLowerInvariant() switch
    {
        "bf16" => WeightFormat.Bf16,
        "f32" => WeightFormat.F32,
        "int8" => WeightFormat.Int8,
        "q8_0" => WeightFormat.Q8_0,
        _ => throw new ArgumentException($"{option}: unknown weight format '{value}' (expected {Names})."),
    };
}

/// <summary>A linear layer's weight W [out, in] for y = x·Wᵀ: a view of the fp32 parameters, a bf16 copy, an int8 or a Q8_0 copy.</summary>
internal sealed class LinearWeight
{
    readonly float[]? _f32;
    readonly int _offset;
    readonly ushort[]? _bf16;
    readonly Int8Linear? _int8;
    readonly Q8_0Linear? _q8;

    public string Name { get; }
    public int Out { get; }
    public int In { get; }
    public long Bytes => _int8?.Bytes ?? _q8?.Bytes ?? (long)Out * In * (_bf16 is null ? sizeof(float) : sizeof(ushort));
    public long Length => (long)Out * In;

    public LinearWeight(ParameterBuffer parameters, TensorSlot slot, WeightFormat format)
    {
        if (slot.Shape.Length != 2) throw new ArgumentException($"Linear weight {slot.Name} must be 2-D, got {slot.ShapeText}.");
        Name = slot.Name;
        Out = slot.Shape[0];
        In = slot.Shape[1];
        if (format == WeightFormat.F32)
        {
            _f32 = parameters.Data;
            _offset = (int)slot.Offset;
        }
        else if (format == WeightFormat.Bf16)
        {
            _bf16 = GC.AllocateUninitializedArray<ushort>((int)slot.Length, pinned: true);
            Bf16.FromFloat(parameters[slot], _bf16);
        }
        else if (format == WeightFormat.Q8_0 && In % Q8_0Linear.Block == 0) _q8 = new Q8_0Linear(parameters[slot], Out, In);
        else _int8 = new Int8Linear(parameters[slot], Out, In); // Int8, and Q8_0 rows that are not whole blocks
    }

    /// <summary>y[m, Out] = (accumulate ? y : 0) + x[m, In]·Wᵀ; int8 weights use <paramref name="scratch"/> (≥ Out·In floats) when m is large.</summary>
    public void Apply(ReadOnlySpan<float> x, Span<float> y, int m, bool accumulate, Func<long, float[]> scratch)
    {
        if (_int8 is not null) _int8.Apply(x, y, m, accumulate, m > RowBands.DecodeMaxRows ? scratch(Length) : []);
        else if (_q8 is not null) _q8.Apply(x, y, m, accumulate, m > RowBands.DecodeMaxRows ? scratch(Length) : null);
        else if (_bf16 is not null) Gemm.MatMulBf16(x, _bf16, y, m, Out, In, accumulate);
        else Gemm.MatMul(x, _f32.AsSpan(_offset, Out * In), y, m, Out, In, transB: true, accumulate: accumulate);
    }
}
