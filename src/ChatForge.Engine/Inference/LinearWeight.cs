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
}

/// <summary>A linear layer's weight W [out, in] for y = x·Wᵀ, either a view of the fp32 parameters or a bf16 copy.</summary>
internal sealed class LinearWeight
{
    readonly float[]? _f32;
    readonly int _offset;
    readonly ushort[]? _bf16;

    public string Name { get; }
    public int Out { get; }
    public int In { get; }
    public long Bytes => (long)Out * In * (_bf16 is null ? sizeof(float) : sizeof(ushort));

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
        else
        {
            _bf16 = GC.AllocateUninitializedArray<ushort>((int)slot.Length, pinned: true);
            Bf16.FromFloat(parameters[slot], _bf16);
        }
    }

    /// <summary>y[m, Out] = (accumulate ? y : 0) + x[m, In]·Wᵀ.</summary>
    public void Apply(ReadOnlySpan<float> x, Span<float> y, int m, bool accumulate = false)
    {
        if (_bf16 is not null) Gemm.MatMulBf16(x, _bf16, y, m, Out, In, accumulate);
        else Gemm.MatMul(x, _f32.AsSpan(_offset, Out * In), y, m, Out, In, transB: true, accumulate: accumulate);
    }
}
