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
}

/// <summary>A linear layer's weight W [out, in] for y = x·Wᵀ: a view of the fp32 parameters, a bf16 copy or an int8 copy.</summary>
internal sealed class LinearWeight
{
    readonly float[]? _f32;
    readonly int _offset;
    readonly ushort[]? _bf16;
    readonly Int8Linear? _int8;

    public string Name { get; }
    public int Out { get; }
    public int In { get; }
    public long Bytes => _int8?.Bytes ?? (long)Out * In * (_bf16 is null ? sizeof(float) : sizeof(ushort));
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
        else _int8 = new Int8Linear(parameters[slot], Out, In);
    }

    /// <summary>y[m, Out] = (accumulate ? y : 0) + x[m, In]·Wᵀ; int8 weights use <paramref name="scratch"/> (≥ Out·In floats) when m is large.</summary>
    public void Apply(ReadOnlySpan<float> x, Span<float> y, int m, bool accumulate, Func<long, float[]> scratch)
    {
        if (_int8 is not null) _int8.Apply(x, y, m, accumulate, m > 8 ? scratch(Length) : []);
        else if (_bf16 is not null) Gemm.MatMulBf16(x, _bf16, y, m, Out, In, accumulate);
        else Gemm.MatMul(x, _f32.AsSpan(_offset, Out * In), y, m, Out, In, transB: true, accumulate: accumulate);
    }
}
