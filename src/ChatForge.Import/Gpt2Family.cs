using System.Text.Json.Nodes;
using ChatForge.Engine.Model;

namespace ChatForge.Import;

/// <summary>
/// GPT-2: LayerNorm, learned positions, gelu_new MLP, biases everywhere, tied embeddings. Its projections are
/// Conv1D modules whose weights are stored [in, out], so they are transposed on import and export; c_attn is
/// already fused [q | k | v] like ours. Checkpoints saved from GPT2Model lack the "transformer." prefix that
/// GPT2LMHeadModel writes; both are read, the prefixed form is written.
/// </summary>
public sealed class Gpt2Family : HfFamily
{
    const string Prefix = "transformer.";

    public override string Architecture => "GPT2LMHeadModel";
    public override string ModelType => "gpt2";

    public override ModelConfig ToModelConfig(HfConfigReader c, ImportOptions options)
    {
        c.Require("activation_function", "gelu_new", "the engine's GELU is the tanh approximation");
        if (c.Bool("scale_attn_by_inverse_layer_idx", false) || c.Bool("reorder_and_upcast_attn", false))
            throw new NotSupportedException($"{c.Source}: scale_attn_by_inverse_layer_idx and reorder_and_upcast_attn are not supported.");
        if (!c.Bool("scale_attn_weights", true))
            throw new NotSupportedException($"{c.Source}: scale_attn_weights = false is not supported (attention is scaled by 1/√head_dim).");
        int d = c.Int("n_embd");
        return new ModelConfig
        {
            ModelType = ModelType,
            VocabSize = c.Int("vocab_size"),
            HiddenSize = d,
            NumLayers = c.Int("n_layer"),
            NumHeads = c.Int("n_head"),
            NumKvHeads = c.Int("n_head"),
            IntermediateSize = c.Json["n_inner"] is JsonValue ? c.Int("n_inner") : 4 * d,
            ContextLength = c.Int("n_positions"),
            Norm = NormKind.LayerNorm,
            NormEps = c.Float("layer_norm_epsilon", 1e-5f),
            Position = PositionKind.Learned,
            Mlp = MlpKind.Gelu,
            QkvBias = true, AttnOutBias = true, MlpBias = true,
            TieEmbeddings = true,
        };
    }

    public override string? ExportProblem(ModelConfig c)
    {
        if (c.Norm != NormKind.LayerNorm || c.Position != PositionKind.Learned || c.Mlp != MlpKind.Gelu)
            return "it needs LayerNorm, learned positions and a GELU MLP";
        if (!c.QkvBias || !c.AttnOutBias || !c.MlpBias) return "GPT-2 has biases on every projection";
        if (!c.TieEmbeddings) return "GPT-2 ties the LM head to the token embedding";
        if (c.NumKvHeads != c.NumHeads) return "GPT-2 has no grouped-query attention";
        if (c.HeadDim * c.NumHeads != c.HiddenSize) return "GPT-2's head_dim is n_embd / n_head";
        if (c.ScoreHead) return "a score head (reward model) has no causal-LM tensor";
        return null;
    }

    public override JsonObject ToHfConfig(ModelConfig c, string torchDtype) => new()
    {
        ["architectures"] = new JsonArray(Architecture),
        ["model_type"] = ModelType,
        ["vocab_size"] = c.VocabSize,
        ["n_embd"] = c.HiddenSize,
        ["n_layer"] = c.NumLayers,
        ["n_head"] = c.NumHeads,
        ["n_inner"] = c.IntermediateSize,
        ["n_positions"] = c.ContextLength,
        ["n_ctx"] = c.ContextLength,
        ["layer_norm_epsilon"] = c.NormEps,
        ["activation_function"] = "gelu_new",
        ["resid_pdrop"] = 0.0, ["embd_pdrop"] = 0.0, ["attn_pdrop"] = 0.0,
        ["scale_attn_weights"] = true,
        ["tie_word_embeddings"] = true,
        ["initializer_range"] = 0.02,
        ["use_cache"] = true,
        ["torch_dtype"] = torchDtype,
    };

    public override IReadOnlyList<HfTensorMap> Tensors(ParameterLayout layout)
    {
        var c = layout.Config;
        int d = c.HiddenSize, ff = c.IntermediateSize;
        var maps = new List<HfTensorMap>
        {
            new(Prefix + "wte.weight", Shape(c.VocabSize, d), layout.TokenEmbedding, 0, false),
            new(Prefix + "wpe.weight", Shape(c.ContextLength, d), layout.PositionEmbedding!, 0, false),
        };
        for (int i = 0; i < layout.Layers.Count; i++)
        {
            var l = layout.Layers[i];
            string p = $"{Prefix}h.{i}.";
            maps.Add(new(p + "ln_1.weight", Shape(d), l.AttnNormWeight, 0, false));
            maps.Add(new(p + "ln_1.bias", Shape(d), l.AttnNormBias!, 0, false));
            maps.Add(new(p + "attn.c_attn.weight", Shape(d, 3 * d), l.QkvWeight, 0, true));
            maps.Add(new(p + "attn.c_attn.bias", Shape(3 * d), l.QkvBias!, 0, false));
            maps.Add(new(p + "attn.c_proj.weight", Shape(d, d), l.OutWeight, 0, true));
            maps.Add(new(p + "attn.c_proj.bias", Shape(d), l.OutBias!, 0, false));
            maps.Add(new(p + "ln_2.weight", Shape(d), l.MlpNormWeight, 0, false));
            maps.Add(new(p + "ln_2.bias", Shape(d), l.MlpNormBias!, 0, false));
            maps.Add(new(p + "mlp.c_fc.weight", Shape(d, ff), l.UpWeight, 0, true));
            maps.Add(new(p + "mlp.c_fc.bias", Shape(ff), l.UpBias!, 0, false));
            maps.Add(new(p + "mlp.c_proj.weight", Shape(ff, d), l.DownWeight, 0, true));
            maps.Add(new(p + "mlp.c_proj.bias", Shape(d), l.DownBias!, 0, false));
        }
        maps.Add(new(Prefix + "ln_f.weight", Shape(d), layout.FinalNormWeight, 0, false));
        maps.Add(new(Prefix + "ln_f.bias", Shape(d), layout.FinalNormBias!, 0, false));
        return maps;
    }

    /// <summary>The causal-mask buffers (attn.bias, attn.masked_bias) and the tied lm_head copy are not parameters.</summary>
    public override bool IsIgnorable(string hfName) =>
        hfName == "lm_head.weight" || hfName.EndsWith(".attn.bias", StringComparison.Ordinal) || hfName.EndsWith(".attn.masked_bias", StringComparison.Ordinal);

    /// <summary>Checkpoints saved from GPT2Model name "h.0.ln_1.weight" what GPT2LMHeadModel names "transformer.h.0.ln_1.weight".</summary>
    public override string CanonicalName(string fileName) =>
        fileName.StartsWith(Prefix, StringComparison.Ordinal) || fileName.StartsWith("lm_head.", StringComparison.Ordinal) ? fileName : Prefix + fileName;
}
