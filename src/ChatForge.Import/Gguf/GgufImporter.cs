using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;

namespace ChatForge.Import.Gguf;

/// <summary>
/// A llama.cpp GGUF model (architectures llama, mistral, qwen2) into our parameter layout, every tensor
/// dequantised to fp32. Names follow llama.cpp (token_embd, blk.N.attn_q, ffn_gate, output_norm, output).
/// GGUF dims list the row length first, so a [ne0 = in, ne1 = out] tensor is our row-major [out, in].
/// llama.cpp's converter permutes the Q and K rows of llama/mistral models from rotate_half pairs
/// (i, i + hd/2) to interleaved pairs (2i, 2i + 1); the permutation is undone here. Qwen2 is stored unpermuted.
/// <see cref="LoadWithBlocks"/> instead keeps the raw blocks of every quantised matrix (Q8_0, Q4_0, Q4_K, Q6_K) for
/// <see cref="WeightFormat.Gguf"/>, without fp32 copies of them (a partial <see cref="ParameterBuffer"/>): a 7B Q4 file
/// then needs about its own size in memory instead of 28 GB. A row is a whole run of blocks, so the un-permutation is a
/// row reordering of bytes.
/// </summary>
public static class GgufImporter
{
    static readonly string[] Supported = ["llama", "mistral", "qwen2"];

    public static ParameterBuffer Load(string path, ImportOptions? options = null) => Load(path, options, keepBlocks: false).Parameters;

    /// <summary>
    /// For serving with <see cref="WeightFormat.Gguf"/>: the file's quantised matrices as blocks, and a partial fp32 buffer with
    /// everything else (embeddings, norms, biases, and matrices the file stores as F32/F16/BF16). The token embedding stays
    /// fp32 even when quantised: its rows are gathered, not multiplied.
    /// </summary>
    public static (ParameterBuffer Parameters, FileBlocks Blocks) LoadWithBlocks(string path, ImportOptions? options = null)
    {
        var (parameters, blocks) = Load(path, options, keepBlocks: true);
        return (parameters, blocks!);
    }

    /// <summary>The kernel format of a ggml type, or null for types served as bf16 (F32, F16, BF16).</summary>
    public static BlockFormat? BlockFormatOf(GgmlType type) => type switch
    {
        GgmlType.Q8_0 => BlockFormat.Q8_0,
        GgmlType.Q4_0 => BlockFormat.Q4_0,
        GgmlType.Q4_K => BlockFormat.Q4_K,
        GgmlType.Q6_K => BlockFormat.Q6_K,
        _ => null,
    };

    static (ParameterBuffer Parameters, FileBlocks? Blocks) Load(string path, ImportOptions? options, bool keepBlocks)
    {
        using var file = GgufFile.Open(path);
        string arch = file.Metadata.TryGetValue("general.architecture", out var a) ? a as string ?? "" : "";
        if (!Supported.Contains(arch))
            throw new NotSupportedException($"{path}: GGUF architecture '{arch}' is not supported (supported: {string.Join(", ", Supported)}).");

        long Meta(string key, long? fallback = null) =>
            file.Metadata.TryGetValue($"{arch}.{key}", out var v) ? Convert.ToInt64(v)
            : fallback ?? throw new InvalidDataException($"{path}: metadata '{arch}.{key}' is missing.");
        float MetaF(string key, float fallback) => file.Metadata.TryGetValue($"{arch}.{key}", out var v) ? Convert.ToSingle(v) : fallback;

        var embed = file.Tensors.TryGetValue("token_embd.weight", out var e) ? e : throw new InvalidDataException($"{path}: tensor 'token_embd.weight' is missing.");
        int heads = (int)Meta("attention.head_count");
        int context = (int)Meta("context_length");
        if (options?.MaxContext > 0) context = Math.Min(context, options.MaxContext);
        var config = new ModelConfig
        {
            ModelType = arch,
            VocabSize = (int)embed.Shape[1],
            HiddenSize = (int)Meta("embedding_length"),
            NumLayers = (int)Meta("block_count"),
            NumHeads = heads,
            NumKvHeads = (int)Meta("attention.head_count_kv", heads),
            IntermediateSize = (int)Meta("feed_forward_length"),
            ContextLength = context,
            Norm = NormKind.RmsNorm,
            NormEps = MetaF("attention.layer_norm_rms_epsilon", 1e-6f),
            Position = PositionKind.Rope,
            RopeTheta = MetaF("rope.freq_base", 10000f),
            Mlp = MlpKind.SwiGlu,
            QkvBias = file.Tensors.ContainsKey("blk.0.attn_q.bias"),
            TieEmbeddings = !file.Tensors.ContainsKey("output.weight"),
        };
        config = config with { RopeScaling = RopeScalingOf(file, arch, path) };
        if (Meta("attention.key_length", config.HiddenSize / heads) != config.HiddenSize / heads)
            config = config with { HeadDimOverride = (int)Meta("attention.key_length") };
        try { config.Validate(); }
        catch (ArgumentException ex) { throw new InvalidDataException($"{path}: {ex.Message}", ex); }

        var layout = new ParameterLayout(config);
        var maps = Maps(layout);
        foreach (var (name, rows, cols, _, _, _) in maps)
        {
            if (!file.Tensors.TryGetValue(name, out var info)) throw new InvalidDataException($"{path}: tensor '{name}' is missing.");
            long[] expected = cols == 0 ? [rows] : [cols, rows];
            if (!info.Shape.SequenceEqual(expected))
                throw new InvalidDataException($"{path}: tensor '{name}' has GGUF shape {info.ShapeText} but the metadata needs [{string.Join(", ", expected)}].");
        }

        // A matrix slot every one of whose GGUF tensors is quantised lives only as blocks.
        var absent = maps.Select(m => m.Slot).Distinct()
            .Where(slot => keepBlocks && slot != layout.TokenEmbedding && slot.Shape.Length == 2
                && maps.Where(m => m.Slot == slot).All(m => BlockFormatOf(file.Tensors[m.Name].Type) is not null))
            .ToList();
        var parameters = keepBlocks ? new ParameterBuffer(layout, absent) : new ParameterBuffer(layout);
        var blocks = keepBlocks ? new FileBlocks() : null;
        bool permuted = arch != "qwen2";
        int hd = config.HeadDim;
        foreach (var (name, rows, cols, slot, rowOffset, ropeHeads) in maps)
        {
            var info = file.Tensors[name];
            int width = Math.Max(cols, 1);
            int permutedHeads = permuted ? ropeHeads : 0;
            if (parameters.Holds(slot))
            {
                var target = parameters[slot].Slice(rowOffset * width, rows * width);
                if (permutedHeads == 0) file.ReadAsFloat32(info, target);
                else
                {
                    var stored = new float[rows * width];
                    file.ReadAsFloat32(info, stored);
                    UnpermuteRows<float>(stored, target, width, permutedHeads, hd);
                }
            }
            // Linear weights only: the embedding table is gathered from fp32 rows (unless tied, when it is also the LM head).
            bool linear = cols > 0 && (slot != layout.TokenEmbedding || config.TieEmbeddings);
            if (blocks is null || !linear || BlockFormatOf(info.Type) is not { } format) continue;
            var bytes = file.GetBytes(info).ToArray();
            if (permutedHeads > 0)
            {
                var reordered = new byte[bytes.Length];
                UnpermuteRows<byte>(bytes, reordered, bytes.Length / rows, permutedHeads, hd);
                bytes = reordered;
            }
            blocks.Add(slot.Name, new BlockRows(name, rowOffset, rows, format, bytes));
        }
        return (parameters, blocks);
    }

    /// <summary>Undoes llama.cpp's Q/K permutation: stored row 2i + j of a head is rotate_half row j·hd/2 + i (rows of <paramref name="width"/> elements).</summary>
    static void UnpermuteRows<T>(ReadOnlySpan<T> stored, Span<T> target, int width, int heads, int hd)
    {
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < hd / 2; i++)
                for (int j = 0; j < 2; j++)
                    stored.Slice((h * hd + 2 * i + j) * width, width).CopyTo(target.Slice((h * hd + j * hd / 2 + i) * width, width));
    }

    /// <summary>
    /// llama.cpp writes linear scaling as {arch}.rope.scaling.type/factor, which we reproduce. Llama 3.1/3.2 files carry
    /// their rescaled frequencies as a `rope_freqs.weight` tensor instead, and yarn adds attention scaling; both are
    /// refused by name rather than served with wrong angles (the Hugging Face folder of such a model imports).
    /// </summary>
    static RopeScaling? RopeScalingOf(GgufFile file, string arch, string path)
    {
        if (file.Tensors.ContainsKey("rope_freqs.weight"))
            throw new NotSupportedException($"{path}: per-frequency RoPE factors (tensor 'rope_freqs.weight', Llama 3.1/3.2) are not supported in GGUF import; import the model's Hugging Face folder, whose llama3 rope_scaling is supported.");
        string type = file.Metadata.TryGetValue($"{arch}.rope.scaling.type", out var t) ? t as string ?? "" : "none";
        if (type is "none" or "") return null;
        if (type != RopeScaling.Linear)
            throw new NotSupportedException($"{path}: RoPE scaling type '{type}' is not supported (supported: none, linear).");
        float factor = file.Metadata.TryGetValue($"{arch}.rope.scaling.factor", out var f) ? Convert.ToSingle(f) : 1f;
        return factor == 1f ? null : new RopeScaling { RopeType = RopeScaling.Linear, Factor = factor };
    }

    /// <summary>(GGUF name, rows, columns (0 for a vector), our slot, first row in it, heads whose rows llama.cpp permuted).</summary>
    static List<(string Name, int Rows, int Cols, TensorSlot Slot, int RowOffset, int RopeHeads)> Maps(ParameterLayout layout)
    {
        var c = layout.Config;
        int d = c.HiddenSize, q = c.NumHeads * c.HeadDim, kv = c.NumKvHeads * c.HeadDim, ff = c.IntermediateSize;
        var maps = new List<(string, int, int, TensorSlot, int, int)> { ("token_embd.weight", c.VocabSize, d, layout.TokenEmbedding, 0, 0) };
        for (int i = 0; i < layout.Layers.Count; i++)
        {
            var l = layout.Layers[i];
            string p = $"blk.{i}.";
            maps.Add((p + "attn_norm.weight", d, 0, l.AttnNormWeight, 0, 0));
            maps.Add((p + "attn_q.weight", q, d, l.QkvWeight, 0, c.NumHeads));
            maps.Add((p + "attn_k.weight", kv, d, l.QkvWeight, q, c.NumKvHeads));
            maps.Add((p + "attn_v.weight", kv, d, l.QkvWeight, q + kv, 0));
            if (l.QkvBias is { } b)
            {
                maps.Add((p + "attn_q.bias", q, 0, b, 0, c.NumHeads));
                maps.Add((p + "attn_k.bias", kv, 0, b, q, c.NumKvHeads));
                maps.Add((p + "attn_v.bias", kv, 0, b, q + kv, 0));
            }
            maps.Add((p + "attn_output.weight", d, q, l.OutWeight, 0, 0));
            maps.Add((p + "ffn_norm.weight", d, 0, l.MlpNormWeight, 0, 0));
            maps.Add((p + "ffn_gate.weight", ff, d, l.UpWeight, 0, 0));
            maps.Add((p + "ffn_up.weight", ff, d, l.UpWeight, ff, 0));
            maps.Add((p + "ffn_down.weight", d, ff, l.DownWeight, 0, 0));
        }
        maps.Add(("output_norm.weight", d, 0, layout.FinalNormWeight, 0, 0));
        if (!c.TieEmbeddings) maps.Add(("output.weight", c.VocabSize, d, layout.LmHead, 0, 0));
        return maps;
    }
}
