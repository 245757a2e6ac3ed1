using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatForge.Engine.Model;

public enum NormKind { LayerNorm, RmsNorm }
public enum PositionKind { Learned, Rope }
public enum MlpKind { Gelu, SwiGlu }

/// <summary>
/// Shape of a decoder-only Transformer. Expresses GPT-2 (LayerNorm, learned positions, GELU, biases, tied),
/// Llama/Mistral (RMSNorm, RoPE, SwiGLU, GQA, no biases) and Qwen2 (as Llama plus QKV bias).
/// Stored as a Hugging Face–style config.json with snake_case keys.
/// </summary>
public sealed record ModelConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "chatforge";
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int NumLayers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int NumHeads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int NumKvHeads { get; init; }
    /// <summary>Per-head width; 0 means HiddenSize / NumHeads.</summary>
    [JsonPropertyName("head_dim")] public int HeadDimOverride { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int ContextLength { get; init; }
    [JsonPropertyName("norm")] public NormKind Norm { get; init; } = NormKind.LayerNorm;
    [JsonPropertyName("norm_eps")] public float NormEps { get; init; } = 1e-5f;
    [JsonPropertyName("position")] public PositionKind Position { get; init; } = PositionKind.Learned;
    [JsonPropertyName("rope_theta")] public float RopeTheta { get; init; } = 10000f;
    /// <summary>Rescaled RoPE frequencies (Llama 3.1/3.2 "llama3", or "linear"); null for plain RoPE.</summary>
    [JsonPropertyName("rope_scaling")] public RopeScaling? RopeScaling { get; init; }
    [JsonPropertyName("mlp")] public MlpKind Mlp { get; init; } = MlpKind.Gelu;
    /// <summary>Bias on the fused Q/K/V projection (GPT-2, Qwen2).</summary>
    [JsonPropertyName("qkv_bias")] public bool QkvBias { get; init; }
    /// <summary>Bias on the attention output projection (GPT-2).</summary>
    [JsonPropertyName("attn_out_bias")] public bool AttnOutBias { get; init; }
    /// <summary>Biases on the MLP projections (GPT-2).</summary>
    [JsonPropertyName("mlp_bias")] public bool MlpBias { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool TieEmbeddings { get; init; } = true;
    /// <summary>A scalar head score.weight [1, d] on the final hidden state: reward models and PPO critics.</summary>
    [JsonPropertyName("score_head")] public bool ScoreHead { get; init; }
    /// <summary>
    /// Reward models only: the reward adds the answer's mean log-probability per token under the model's own LM head to
    /// the score head's value (ChatForge.Training.Reward.RewardScorer has why).
    /// </summary>
    [JsonPropertyName("score_likelihood")] public bool ScoreLikelihood { get; init; }

    [JsonIgnore] public int HeadDim => HeadDimOverride > 0 ? HeadDimOverride : HiddenSize / Math.Max(1, NumHeads);
    [JsonIgnore] public int QkvDim => (NumHeads + 2 * NumKvHeads) * HeadDim;

    /// <summary>GPT-2–style model as used by `bench train --config a|b` and the tests.</summary>
    public static ModelConfig Gpt2Style(int vocab, int dModel, int layers, int heads, int context) => new()
    {
        VocabSize = vocab, HiddenSize = dModel, NumLayers = layers, NumHeads = heads, NumKvHeads = heads,
        IntermediateSize = 4 * dModel, ContextLength = context, Norm = NormKind.LayerNorm, Position = PositionKind.Learned,
        Mlp = MlpKind.Gelu, QkvBias = true, AttnOutBias = true, MlpBias = true, TieEmbeddings = true,
    };

    /// <summary>Llama-style model (RMSNorm, RoPE, SwiGLU, grouped-query attention, no biases).</summary>
    public static ModelConfig LlamaStyle(int vocab, int dModel, int layers, int heads, int kvHeads, int intermediate, int context) => new()
    {
        VocabSize = vocab, HiddenSize = dModel, NumLayers = layers, NumHeads = heads, NumKvHeads = kvHeads,
        IntermediateSize = intermediate, ContextLength = context, Norm = NormKind.RmsNorm, NormEps = 1e-6f,
        Position = PositionKind.Rope, Mlp = MlpKind.SwiGlu, TieEmbeddings = false,
    };

    /// <summary>Throws ArgumentException naming the first inconsistent field.</summary>
    public void Validate()
    {
        void Positive(int v, string name) { if (v <= 0) throw new ArgumentException($"Model config: {name} must be positive, got {v}."); }
        Positive(VocabSize, "vocab_size"); Positive(HiddenSize, "hidden_size"); Positive(NumLayers, "num_hidden_layers");
        Positive(NumHeads, "num_attention_heads"); Positive(NumKvHeads, "num_key_value_heads");
        Positive(IntermediateSize, "intermediate_size"); Positive(ContextLength, "max_position_embeddings");
        if (NumKvHeads > NumHeads || NumHeads % NumKvHeads != 0)
            throw new ArgumentException($"Model config: num_attention_heads ({NumHeads}) must be a multiple of num_key_value_heads ({NumKvHeads}).");
        if (HeadDimOverride == 0 && HiddenSize % NumHeads != 0)
            throw new ArgumentException($"Model config: hidden_size ({HiddenSize}) is not divisible by num_attention_heads ({NumHeads}); set head_dim.");
        if (Position == PositionKind.Rope && HeadDim % 2 != 0)
            throw new ArgumentException($"Model config: RoPE needs an even head_dim, got {HeadDim}.");
        if (!(NormEps > 0)) throw new ArgumentException($"Model config: norm_eps must be positive, got {NormEps}.");
        RopeScaling?.Validate();
    }

    static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses and validates config.json text; <paramref name="source"/> names the file in errors.</summary>
    public static ModelConfig FromJson(string json, string source = "config.json")
    {
        ModelConfig? config;
        try { config = JsonSerializer.Deserialize<ModelConfig>(json, JsonOptions); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not a valid model config ({e.Message}).", e); }
        if (config is null) throw new InvalidDataException($"{source}: empty model config.");
        try { config.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{source}: {e.Message}", e); }
        return config;
    }

    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Model config not found: {path}", path);
        return FromJson(File.ReadAllText(path), path);
    }

    public void Save(string path) => File.WriteAllText(path, ToJson());
}
