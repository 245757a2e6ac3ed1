using System.Text.Json.Nodes;
using ChatForge.Engine.Model;

namespace ChatForge.Import;

/// <summary>
/// Llama, Mistral and Qwen2: RMSNorm, rotate_half RoPE, grouped-query attention, SiLU-gated MLP. They share
/// tensor names; they differ in biases (Qwen2: q/k/v; Llama with attention_bias: q/k/v/o) and in
/// Mistral's sliding window. HF keeps q/k/v and gate/up as separate tensors; ours are fused by rows.
/// </summary>
public sealed class LlamaFamily(string architecture, string modelType) : HfFamily
{
    public override string Architecture => architecture;
    public override string ModelType => modelType;

    bool IsQwen2 => modelType == "qwen2";
    bool IsMistral => modelType == "mistral";

    public override ModelConfig ToModelConfig(HfConfigReader c, ImportOptions options)
    {
        c.Require("hidden_act", "silu", "the MLP is SiLU-gated");
        var ropeScaling = RopeScalingOf(c);
        int d = c.Int("hidden_size"), heads = c.Int("num_attention_heads");
        int headDim = c.Int("head_dim", 0);
        int context = c.Int("max_position_embeddings");
        // A sliding window only differs from full attention beyond the window: capping the context there keeps results exact.
        bool window = IsMistral ? c.Has("sliding_window") && c.Json["sliding_window"] is JsonValue
            : IsQwen2 && c.Bool("use_sliding_window", false);
        if (window) context = Math.Min(context, c.Int("sliding_window"));
        if (options.MaxContext > 0) context = Math.Min(context, options.MaxContext);

        bool attentionBias = !IsQwen2 && c.Bool("attention_bias", false);
        return new ModelConfig
        {
            ModelType = modelType,
            VocabSize = c.Int("vocab_size"),
            HiddenSize = d,
            NumLayers = c.Int("num_hidden_layers"),
            NumHeads = heads,
            NumKvHeads = c.Int("num_key_value_heads", heads),
            HeadDimOverride = headDim > 0 && headDim * heads != d ? headDim : 0,
            IntermediateSize = c.Int("intermediate_size"),
            ContextLength = context,
            Norm = NormKind.RmsNorm,
            NormEps = c.Float("rms_norm_eps", 1e-6f),
            Position = PositionKind.Rope,
            RopeTheta = c.Float("rope_theta", 10000f),
            RopeScaling = ropeScaling,
            Mlp = MlpKind.SwiGlu,
            QkvBias = IsQwen2 || attentionBias,
            AttnOutBias = attentionBias,
            MlpBias = !IsQwen2 && !IsMistral && c.Bool("mlp_bias", false),
            TieEmbeddings = c.Bool("tie_word_embeddings", false),
        };
    }

    /// <summary>
    /// rope_scaling as HF writes it: absent/null or "default" is plain RoPE; "linear" and "llama3" rescale the
    /// frequencies of every position and are reproduced; "dynamic", "yarn" and the rest are refused by name.
    /// </summary>
    static RopeScaling? RopeScalingOf(HfConfigReader c)
    {
        if (c.Json["rope_scaling"] is not JsonObject scaling) return null;
        string type = scaling["rope_type"]?.ToString() ?? scaling["type"]?.ToString() ?? "?";
        double Number(string key, double fallback) => scaling[key] is JsonValue v && v.TryGetValue(out double d) ? d : fallback;
        var result = type switch
        {
            "default" => null,
            RopeScaling.Linear => new RopeScaling { RopeType = RopeScaling.Linear, Factor = Number("factor", 1) },
            RopeScaling.Llama3 => new RopeScaling
            {
                RopeType = RopeScaling.Llama3, Factor = Number("factor", 8), LowFreqFactor = Number("low_freq_factor", 1),
                HighFreqFactor = Number("high_freq_factor", 4), OriginalContextLength = (int)Number("original_max_position_embeddings", 8192),
            },
            _ => throw new NotSupportedException($"{c.Source}: rope_scaling type '{type}' is not supported (supported: none, default, linear, llama3; dynamic and yarn change the frequencies with the sequence length)."),
        };
        try { result?.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{c.Source}: {e.Message}", e); }
        return result;
    }

    static JsonObject RopeScalingJson(RopeScaling s) => s.RopeType == RopeScaling.Linear
        ? new JsonObject { ["rope_type"] = s.RopeType, ["factor"] = s.Factor }
        : new JsonObject
        {
            ["rope_type"] = s.RopeType, ["factor"] = s.Factor, ["low_freq_factor"] = s.LowFreqFactor,
            ["high_freq_factor"] = s.HighFreqFactor, ["original_max_position_embeddings"] = s.OriginalContextLength,
        };

    public override string? ExportProblem(ModelConfig c)
    {
        if (c.Norm != NormKind.RmsNorm || c.Position != PositionKind.Rope || c.Mlp != MlpKind.SwiGlu)
            return "it needs RMSNorm, RoPE and a SwiGLU MLP";
        if (c.ScoreHead) return "a score head (reward model) has no causal-LM tensor";
        if (IsQwen2) return c.QkvBias && !c.AttnOutBias && !c.MlpBias ? null : "Qwen2 has a bias on q/k/v and nowhere else";
        if (IsMistral) return !c.QkvBias && !c.AttnOutBias && !c.MlpBias ? null : "Mistral has no biases";
        return c.QkvBias == c.AttnOutBias ? null : "Llama's attention_bias puts a bias on all of q/k/v/o or none";
    }

    public override JsonObject ToHfConfig(ModelConfig c, string torchDtype)
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(Architecture),
            ["model_type"] = ModelType,
            ["vocab_size"] = c.VocabSize,
            ["hidden_size"] = c.HiddenSize,
            ["intermediate_size"] = c.IntermediateSize,
            ["num_hidden_layers"] = c.NumLayers,
            ["num_attention_heads"] = c.NumHeads,
            ["num_key_value_heads"] = c.NumKvHeads,
            ["head_dim"] = c.HeadDim,
            ["max_position_embeddings"] = c.ContextLength,
            ["rms_norm_eps"] = c.NormEps,
            ["rope_theta"] = c.RopeTheta,
            ["rope_scaling"] = c.RopeScaling is { } rs ? RopeScalingJson(rs) : null,
            ["hidden_act"] = "silu",
            ["tie_word_embeddings"] = c.TieEmbeddings,
            ["attention_dropout"] = 0.0,
            ["initializer_range"] = 0.02,
            ["use_cache"] = true,
            ["torch_dtype"] = torchDtype,
        };
        if (IsQwen2)
        {
            json["use_sliding_window"] = false;
            json["sliding_window"] = c.ContextLength;
            json["max_window_layers"] = c.NumLayers;
        }
        else if (IsMistral) json["sliding_window"] = null;
        else
        {
            json["attention_bias"] = c.QkvBias;
            json["mlp_bias"] = c.MlpBias;
        }
        return json;
    }

    public override IReadOnlyList<HfTensorMap> Tensors(ParameterLayout layout)
    {
        var c = layout.Config;
        int d = c.HiddenSize, hd = c.HeadDim, q = c.NumHeads * hd, kv = c.NumKvHeads * hd, ff = c.IntermediateSize;
        var maps = new List<HfTensorMap> { new("model.embed_tokens.weight", Shape(c.VocabSize, d), layout.TokenEmbedding, 0, false) };
        for (int i = 0; i < layout.Layers.Count; i++)
        {
            var l = layout.Layers[i];
            string p = $"model.layers.{i}.";
            maps.Add(new(p + "input_layernorm.weight", Shape(d), l.AttnNormWeight, 0, false));
            maps.Add(new(p + "self_attn.q_proj.weight", Shape(q, d), l.QkvWeight, 0, false));
            maps.Add(new(p + "self_attn.k_proj.weight", Shape(kv, d), l.QkvWeight, q, false));
            maps.Add(new(p + "self_attn.v_proj.weight", Shape(kv, d), l.QkvWeight, q + kv, false));
            if (l.QkvBias is { } qkvBias)
            {
                maps.Add(new(p + "self_attn.q_proj.bias", Shape(q), qkvBias, 0, false));
                maps.Add(new(p + "self_attn.k_proj.bias", Shape(kv), qkvBias, q, false));
                maps.Add(new(p + "self_attn.v_proj.bias", Shape(kv), qkvBias, q + kv, false));
            }
            maps.Add(new(p + "self_attn.o_proj.weight", Shape(d, q), l.OutWeight, 0, false));
            if (l.OutBias is { } outBias) maps.Add(new(p + "self_attn.o_proj.bias", Shape(d), outBias, 0, false));
            maps.Add(new(p + "post_attention_layernorm.weight", Shape(d), l.MlpNormWeight, 0, false));
            maps.Add(new(p + "mlp.gate_proj.weight", Shape(ff, d), l.UpWeight, 0, false));
            maps.Add(new(p + "mlp.up_proj.weight", Shape(ff, d), l.UpWeight, ff, false));
            if (l.UpBias is { } upBias)
            {
                maps.Add(new(p + "mlp.gate_proj.bias", Shape(ff), upBias, 0, false));
                maps.Add(new(p + "mlp.up_proj.bias", Shape(ff), upBias, ff, false));
            }
            maps.Add(new(p + "mlp.down_proj.weight", Shape(d, ff), l.DownWeight, 0, false));
            if (l.DownBias is { } downBias) maps.Add(new(p + "mlp.down_proj.bias", Shape(d), downBias, 0, false));
        }
        maps.Add(new("model.norm.weight", Shape(d), layout.FinalNormWeight, 0, false));
        if (!c.TieEmbeddings) maps.Add(new("lm_head.weight", Shape(c.VocabSize, d), layout.LmHead, 0, false));
        return maps;
    }

    /// <summary>A tied checkpoint may still carry lm_head.weight (a copy of the embedding); it is not needed.</summary>
    public override bool IsIgnorable(string hfName) => base.IsIgnorable(hfName) || hfName == "lm_head.weight";
}
