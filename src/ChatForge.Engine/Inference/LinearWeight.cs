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
    /// <summary>ggml's Q4_0 (18 bytes per 32 weights), quantised from fp32 with ggml's reference quantiser.</summary>
    Q4_0,
    /// <summary>ggml's Q4_K (144 bytes per 256 weights), simple min/max quantiser; rows that are not whole 256-blocks go Q4_0.</summary>
    Q4_K,
    /// <summary>ggml's Q6_K (210 bytes per 256 weights), simple absmax quantiser; rows that are not whole 256-blocks go Q8_0.</summary>
    Q6_K,
    /// <summary>Each matrix in the GGUF file's own quantisation (Q8_0, Q4_0, Q4_K, Q6_K blocks as stored); matrices the file keeps unquantised (F32, F16, BF16) as bf16.</summary>
    Gguf,
}

public static class WeightFormats
{
    public const string Names = "auto (gguf for a .gguf model, else bf16), bf16, f32, int8, q8_0, q4_0, q4_k, q6_k or gguf (a .gguf model's own blocks)";

    /// <summary>
    /// Parses a weights setting for the model at <paramref name="modelPath"/>: "auto" serves a .gguf file on its own
    /// quantised blocks (dequantising a Q4 file to bf16 would read four times the bytes) and anything else as bf16.
    /// </summary>
    public static WeightFormat ParseFor(string value, string modelPath, string option = "--weights") =>
        value.Equals("auto", StringComparison.OrdinalIgnoreCase)
            ? modelPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? WeightFormat.Gguf : WeightFormat.Bf16
            : Parse(value, option);

    /// <summary>Parses a --weights value; <paramref name="option"/> names the setting in the error.</summary>
    public static WeightFormat Parse(string value, string option = "--weights") => value.ToLowerInvariant() switch
    {
        "bf16" => WeightFormat.Bf16,
        "f32" => WeightFormat.F32,
        "int8" => WeightFormat.Int8,
        "q8_0" => WeightFormat.Q8_0,
        "q4_0" => WeightFormat.Q4_0,
        "q4_k" => WeightFormat.Q4_K,
        "q6_k" => WeightFormat.Q6_K,
        "gguf" => WeightFormat.Gguf,
        _ => throw new ArgumentException($"{option}: unknown weight format '{value}' (expected {Names})."),
    };
}

/// <summary>
/// A linear layer's weight W [out, in] for y = x·Wᵀ: a view of the fp32 parameters, a bf16, int8 or ggml-block copy,
/// or — for a slot a model file stored as several tensors of different formats — row ranges each in its own.
/// </summary>
internal sealed class LinearWeight
{
    readonly Part[] _parts;
    [ThreadStatic] static float[]? t_partY;

    public string Name { get; }
    public int Out { get; }
    public int In { get; }
    public long Bytes => _parts.Sum(p => p.Bytes);
    public long Length => (long)Out * In;

    /// <param name="fileBlocks">The slot's quantised rows from the model file (used by <see cref="WeightFormat.Gguf"/> only).</param>
    public LinearWeight(ParameterBuffer parameters, TensorSlot slot, WeightFormat format, IReadOnlyList<BlockRows>? fileBlocks = null)
    {
        if (slot.Shape.Length != 2) throw new ArgumentException($"Linear weight {slot.Name} must be 2-D, got {slot.ShapeText}.");
        Name = slot.Name;
        Out = slot.Shape[0];
        In = slot.Shape[1];
        _parts = format == WeightFormat.Gguf ? FileParts(parameters, slot, fileBlocks ?? []) : [new Part(0, Out, parameters, slot, format)];
    }

    /// <summary>Runs of the file's blocks (adjacent row ranges of one format merged into one kernel), with the rows between them as bf16.</summary>
    Part[] FileParts(ParameterBuffer parameters, TensorSlot slot, IReadOnlyList<BlockRows> blocks)
    {
        var parts = new List<Part>();
        int row = 0;
        for (int i = 0; i < blocks.Count;)
        {
            var first = blocks[i];
            if (first.RowOffset < row || first.RowOffset + first.Rows > Out)
                throw new ArgumentException($"{Name}: rows [{first.RowOffset}, {first.RowOffset + first.Rows}) of tensor '{first.Tensor}' overlap others or lie outside [0, {Out}).");
            if (first.RowOffset > row) parts.Add(new Part(row, first.RowOffset - row, parameters, slot, WeightFormat.Bf16));
            int j = i + 1, rows = first.Rows;
            while (j < blocks.Count && blocks[j].Format == first.Format && blocks[j].RowOffset == first.RowOffset + rows) rows += blocks[j++].Rows;
            var run = blocks.Skip(i).Take(j - i).ToList();
            parts.Add(new Part(first.RowOffset, rows, BlockLinear.FromBlocks(first.Format, Concatenate(run), rows, In, string.Join(" + ", run.Select(b => b.Tensor)))));
            row = first.RowOffset + rows;
            i = j;
        }
        if (row < Out) parts.Add(new Part(row, Out - row, parameters, slot, WeightFormat.Bf16));
        return parts.ToArray();
    }

    /// <summary>The blocks of adjacent row ranges as one array (block copies, not a byte-by-byte enumeration: these are most of a model's bytes).</summary>
    static byte[] Concatenate(IReadOnlyList<BlockRows> run)
    {
        if (run.Count == 1) return run[0].Blocks;
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)run.Sum(b => (long)b.Blocks.Length)));
        int at = 0;
        foreach (var b in run)
        {
            b.Blocks.CopyTo(bytes, at);
            at += b.Blocks.Length;
        }
        return bytes;
    }

    /// <summary>y[m, Out] = (accumulate ? y : 0) + x[m, In]·Wᵀ; quantised weights use <paramref name="scratch"/> (≥ Out·In floats) when m is large.</summary>
    public void Apply(ReadOnlySpan<float> x, Span<float> y, int m, bool accumulate, Func<long, float[]> scratch)
    {
        if (_parts.Length == 1) { _parts[0].Apply(x, y, m, accumulate, scratch); return; }
        // Row ranges of different formats: each part fills its own [m, rows] block, then its columns of y.
        foreach (var part in _parts)
        {
            int n = m * part.Rows;
            if (t_partY is null || t_partY.Length < n) t_partY = GC.AllocateUninitializedArray<float>(n);
            var partY = t_partY.AsSpan(0, n);
            part.Apply(x, partY, m, false, scratch);
            for (int r = 0; r < m; r++)
            {
                var source = partY.Slice(r * part.Rows, part.Rows);
                var target = y.Slice(r * Out + part.Row0, part.Rows);
                if (accumulate) System.Numerics.Tensors.TensorPrimitives.Add(target, source, target);
                else source.CopyTo(target);
            }
        }
    }

    /// <summary>Rows [Row0, Row0 + Rows) of W in one representation.</summary>
    sealed class Part
    {
        readonly float[]? _f32;
        readonly int _offset;
        readonly Bf16Matrix? _bf16;
        readonly Int8Linear? _int8;
        readonly BlockLinear? _blocks;

        public int Row0 { get; }
        public int Rows { get; }
        public int In { get; }
        public long Bytes => _int8?.Bytes ?? _blocks?.Bytes ?? _bf16?.Bytes ?? (long)Rows * In * sizeof(float);

        public Part(int row0, int rows, BlockLinear blocks) { Row0 = row0; Rows = rows; In = blocks.In; _blocks = blocks; }

        public Part(int row0, int rows, ParameterBuffer parameters, TensorSlot slot, WeightFormat format)
        {
            Row0 = row0; Rows = rows; In = slot.Shape[1];
            var weights = parameters[slot].Slice(row0 * In, rows * In);
            string name = rows == slot.Shape[0] ? slot.Name : $"{slot.Name} rows [{row0}, {row0 + rows})";
            var block = BlockFormatFor(format, In);
            if (format == WeightFormat.F32) { _f32 = parameters.Data; _offset = (int)parameters.OffsetOf(slot) + row0 * In; }
            else if (format is WeightFormat.Bf16 or WeightFormat.Gguf)
            {
                _bf16 = Bf16Matrix.FromFloat(weights, rows, In);
            }
            else if (block is { } b) _blocks = BlockLinear.FromBlocks(b, GgmlQuantizer.Quantize(b, weights), rows, In, name);
            else _int8 = new Int8Linear(weights, rows, In); // Int8, and block formats whose rows are not whole blocks of 32
        }

        /// <summary>The ggml format a quantised <paramref name="format"/> uses for rows of <paramref name="inDim"/>: K-quants fall back to the 32-block format of about the same bits when rows are not whole 256-blocks (as llama.cpp does).</summary>
        static BlockFormat? BlockFormatFor(WeightFormat format, int inDim) => format switch
        {
            WeightFormat.Q4_K when inDim % Q4_KLinear.Block == 0 => BlockFormat.Q4_K,
            WeightFormat.Q6_K when inDim % Q6_KLinear.Block == 0 => BlockFormat.Q6_K,
            WeightFormat.Q4_0 or WeightFormat.Q4_K when inDim % BlockLinear.Group == 0 => BlockFormat.Q4_0,
            WeightFormat.Q8_0 or WeightFormat.Q6_K when inDim % BlockLinear.Group == 0 => BlockFormat.Q8_0,
            _ => null,
        };

        public void Apply(ReadOnlySpan<float> x, Span<float> y, int m, bool accumulate, Func<long, float[]> scratch)
        {
            long length = (long)Rows * In;
            if (_int8 is not null) _int8.Apply(x, y, m, accumulate, m > RowBands.DecodeMaxRows ? scratch(length) : []);
            else if (_blocks is not null) _blocks.Apply(x, y, m, accumulate, m > RowBands.DecodeMaxRows ? scratch(length) : null);
            else if (_bf16 is not null) Gemm.MatMulBf16(x, _bf16, y, m, accumulate);
            else Gemm.MatMul(x, _f32.AsSpan(_offset, Rows * In), y, m, Rows, In, transB: true, accumulate: accumulate);
        }
    }
}
