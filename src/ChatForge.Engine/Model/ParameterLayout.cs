namespace ChatForge.Engine.Model;

/// <summary>One named tensor inside the flat parameter buffer.</summary>
/// <param name="WeightDecay">True for matmul weights; false for norms, biases and embeddings (AdamW skips them unless asked).</param>
public sealed record TensorSlot(string Name, int[] Shape, long Offset, long Length, bool WeightDecay)
{
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>One layer's tensors in the flat buffer; null where the config has no such tensor.</summary>
public sealed record LayerSlots(
    TensorSlot AttnNormWeight, TensorSlot? AttnNormBias,
    TensorSlot QkvWeight, TensorSlot? QkvBias,
    TensorSlot OutWeight, TensorSlot? OutBias,
    TensorSlot MlpNormWeight, TensorSlot? MlpNormBias,
    TensorSlot UpWeight, TensorSlot? UpBias,
    TensorSlot DownWeight, TensorSlot? DownBias);

/// <summary>
/// Where every parameter lives in one contiguous float buffer (llm.c style): the optimizer, gradient
/// clipping and checkpoints then see a single array. Each tensor starts on a 64-byte boundary.
/// Names (used in safetensors files):
///   embed_tokens.weight [V, d]; embed_positions.weight [T, d] (learned positions only);
///   layers.{i}.attn_norm.{weight,bias}; layers.{i}.attn.qkv.{weight [(Hq+2Hkv)·hd, d], bias};
///   layers.{i}.attn.out.{weight [d, Hq·hd], bias}; layers.{i}.mlp_norm.{weight,bias};
///   layers.{i}.mlp.up.{weight, bias} — [ff, d] for GELU, [2·ff, d] for SwiGLU (gate rows first, then up);
///   layers.{i}.mlp.down.{weight [d, ff], bias}; final_norm.{weight,bias}; lm_head.weight [V, d] (untied only);
///   score.weight [1, d] (reward models and critics only, as Hugging Face's *ForSequenceClassification).
/// </summary>
public sealed class ParameterLayout
{
    const int Align = 16; // floats

    /// <summary>A tensor's length rounded up to the alignment: where the next tensor starts (also in a partial buffer).</summary>
    internal static long Padded(long length) => (length + Align - 1) / Align * Align;

    public ModelConfig Config { get; }
    public IReadOnlyList<TensorSlot> Tensors => _tensors;
    public long TotalLength { get; }
    public TensorSlot TokenEmbedding { get; }
    public TensorSlot? PositionEmbedding { get; }
    public IReadOnlyList<LayerSlots> Layers { get; }
    public TensorSlot FinalNormWeight { get; }
    public TensorSlot? FinalNormBias { get; }
    /// <summary>The LM head's weight: the token embedding when tied.</summary>
    public TensorSlot LmHead { get; }
    /// <summary>The scalar (reward / value) head, when the config has one.</summary>
    public TensorSlot? Score { get; }

    readonly List<TensorSlot> _tensors = new();
    readonly Dictionary<string, TensorSlot> _byName = new();
    long _next;

    public ParameterLayout(ModelConfig config)
    {
        config.Validate();
        Config = config;
        int d = config.HiddenSize, hd = config.HeadDim, ff = config.IntermediateSize;
        bool layerNorm = config.Norm == NormKind.LayerNorm;

        TokenEmbedding = Add("embed_tokens.weight", false, config.VocabSize, d);
        if (config.Position == PositionKind.Learned) PositionEmbedding = Add("embed_positions.weight", false, config.ContextLength, d);

        var layers = new List<LayerSlots>();
        for (int i = 0; i < config.NumLayers; i++)
        {
            string p = $"layers.{i}.";
            var attnNormW = Add(p + "attn_norm.weight", false, d);
            var attnNormB = layerNorm ? Add(p + "attn_norm.bias", false, d) : null;
            var qkvW = Add(p + "attn.qkv.weight", true, config.QkvDim, d);
            var qkvB = config.QkvBias ? Add(p + "attn.qkv.bias", false, config.QkvDim) : null;
            var outW = Add(p + "attn.out.weight", true, d, config.NumHeads * hd);
            var outB = config.AttnOutBias ? Add(p + "attn.out.bias", false, d) : null;
            var mlpNormW = Add(p + "mlp_norm.weight", false, d);
            var mlpNormB = layerNorm ? Add(p + "mlp_norm.bias", false, d) : null;
            int upRows = config.Mlp == MlpKind.SwiGlu ? 2 * ff : ff;
            var upW = Add(p + "mlp.up.weight", true, upRows, d);
            var upB = config.MlpBias ? Add(p + "mlp.up.bias", false, upRows) : null;
            var downW = Add(p + "mlp.down.weight", true, d, ff);
            var downB = config.MlpBias ? Add(p + "mlp.down.bias", false, d) : null;
            layers.Add(new LayerSlots(attnNormW, attnNormB, qkvW, qkvB, outW, outB, mlpNormW, mlpNormB, upW, upB, downW, downB));
        }
        Layers = layers;

        FinalNormWeight = Add("final_norm.weight", false, d);
        FinalNormBias = layerNorm ? Add("final_norm.bias", false, d) : null;
        LmHead = config.TieEmbeddings ? TokenEmbedding : Add("lm_head.weight", true, config.VocabSize, d);
        if (config.ScoreHead) Score = Add("score.weight", false, 1, d);
        TotalLength = _next;
    }

    TensorSlot Add(string name, bool decay, params int[] shape)
    {
        long length = 1;
        foreach (int s in shape) length *= s;
        var slot = new TensorSlot(name, shape, _next, length, decay);
        _next += Padded(length);
        _tensors.Add(slot);
        _byName.Add(name, slot);
        return slot;
    }

    public TensorSlot this[string name] =>
        _byName.TryGetValue(name, out var slot) ? slot : throw new KeyNotFoundException($"The model has no tensor named '{name}'.");

    public bool TryGet(string name, out TensorSlot slot) => _byName.TryGetValue(name, out slot!);

    /// <summary>Number of real parameters (padding excluded).</summary>
    public long ParameterCount => _tensors.Sum(t => t.Length);
}

/// <summary>
/// A flat float buffer laid out by a <see cref="ParameterLayout"/>: parameters, gradients or optimizer moments.
/// A partial buffer (inference only) has no storage for some tensors — a GGUF file's quantised matrices, which the
/// inference model reads from the file's blocks — and packs the others, so a 7B Q4 file does not need 28 GB of fp32.
/// </summary>
public sealed class ParameterBuffer
{
    /// <summary>Offsets of the tensors a partial buffer holds; null when it holds every tensor at its layout offset.</summary>
    readonly Dictionary<TensorSlot, long>? _partial;

    public ParameterLayout Layout { get; }
    /// <summary>Every tensor at its layout offset; in a partial buffer, the tensors it holds packed in layout order.</summary>
    public float[] Data { get; }
    public bool IsPartial => _partial is not null;

    public ParameterBuffer(ParameterLayout layout)
    {
        if (layout.TotalLength > Array.MaxLength) throw new NotSupportedException($"Model too large for one buffer ({layout.TotalLength} floats).");
        Layout = layout;
        Data = GC.AllocateUninitializedArray<float>((int)layout.TotalLength, pinned: true);
        Array.Clear(Data);
    }

    /// <summary>A partial buffer without storage for <paramref name="absent"/> (for inference: training needs every tensor).</summary>
    public ParameterBuffer(ParameterLayout layout, IEnumerable<TensorSlot> absent)
    {
        var skip = new HashSet<TensorSlot>(absent, ReferenceEqualityComparer.Instance);
        _partial = new Dictionary<TensorSlot, long>(ReferenceEqualityComparer.Instance);
        long next = 0;
        foreach (var t in layout.Tensors)
        {
            if (skip.Contains(t)) continue;
            _partial[t] = next;
            next += ParameterLayout.Padded(t.Length);
        }
        if (next > Array.MaxLength) throw new NotSupportedException($"Model too large for one buffer ({next} floats outside the quantised matrices).");
        Layout = layout;
        Data = GC.AllocateUninitializedArray<float>((int)next, pinned: true);
        Array.Clear(Data);
    }

    /// <summary>Whether the buffer holds the tensor's values (always, unless partial).</summary>
    public bool Holds(TensorSlot slot) => _partial is null || _partial.ContainsKey(slot);

    /// <summary>Where the tensor starts in <see cref="Data"/>.</summary>
    public long OffsetOf(TensorSlot slot) =>
        _partial is null ? slot.Offset
        : _partial.TryGetValue(slot, out long offset) ? offset
        : throw new InvalidOperationException($"Tensor '{slot.Name}' {slot.ShapeText} is not held in this parameter buffer: the model file's quantised blocks stand in for it (serve it with weights 'gguf').");

    public Span<float> this[TensorSlot slot] => Data.AsSpan((int)OffsetOf(slot), (int)slot.Length);
    public Span<float> this[string name] => this[Layout[name]];
}
