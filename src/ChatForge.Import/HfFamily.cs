using System.Text.Json.Nodes;
using ChatForge.Engine.Model;

namespace ChatForge.Import;

/// <summary>
/// Where one Hugging Face tensor lives in our parameter layout. Import and export both walk the same list,
/// so a name or a slice can never be mapped one way and forgotten the other.
/// </summary>
/// <param name="HfName">The tensor's name in the family's safetensors files.</param>
/// <param name="HfShape">Its shape there.</param>
/// <param name="Slot">Our tensor it is (part of).</param>
/// <param name="RowOffset">First row of <paramref name="Slot"/> it fills (q/k/v inside our fused qkv, gate/up inside our fused up).</param>
/// <param name="Transposed">Stored [in, out] (GPT-2's Conv1D) while ours is [out, in].</param>
public sealed record HfTensorMap(string HfName, int[] HfShape, TensorSlot Slot, int RowOffset, bool Transposed)
{
    public string HfShapeText => "[" + string.Join(", ", HfShape) + "]";

    /// <summary>Elements per row of the slot (1 for a vector).</summary>
    public int RowLength => Slot.Shape.Length == 2 ? Slot.Shape[1] : 1;

    /// <summary>Rows of the slot this tensor covers.</summary>
    public int Rows => Transposed ? Slot.Shape[0] : HfShape[0];
}

/// <summary>
/// A model family in the Hugging Face layout: how its config.json maps to <see cref="ModelConfig"/> and back,
/// and the one table of tensor names (<see cref="Tensors"/>) used for both import and export.
/// </summary>
public abstract class HfFamily
{
    /// <summary>config.json "architectures"[0], e.g. LlamaForCausalLM.</summary>
    public abstract string Architecture { get; }
    /// <summary>config.json "model_type", e.g. llama.</summary>
    public abstract string ModelType { get; }

    public abstract ModelConfig ToModelConfig(HfConfigReader config, ImportOptions options);
    public abstract JsonObject ToHfConfig(ModelConfig config, string torchDtype);
    public abstract IReadOnlyList<HfTensorMap> Tensors(ParameterLayout layout);

    /// <summary>Tensors some checkpoints carry that are buffers, not parameters (causal masks, cached RoPE frequencies).</summary>
    public virtual bool IsIgnorable(string hfName) => hfName.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);

    /// <summary>The name a checkpoint's tensor is known by in <see cref="Tensors"/> (families with optional prefixes override it).</summary>
    public virtual string CanonicalName(string fileName) => fileName;

    /// <summary>Why the model cannot be written in this family's layout; null when it can.</summary>
    public abstract string? ExportProblem(ModelConfig config);

    public static readonly IReadOnlyList<HfFamily> All =
    [
        new LlamaFamily("LlamaForCausalLM", "llama"),
        new LlamaFamily("Qwen2ForCausalLM", "qwen2"),
        new LlamaFamily("MistralForCausalLM", "mistral"),
        new Gpt2Family(),
    ];

    public static string SupportedText => string.Join(", ", All.Select(f => f.Architecture));

    /// <summary>The family of a config.json "architectures" entry; throws naming it and listing what is supported.</summary>
    public static HfFamily ForArchitecture(string architecture, string source) =>
        All.FirstOrDefault(f => f.Architecture == architecture)
        ?? throw new NotSupportedException($"{source}: architecture '{architecture}' is not supported (supported: {SupportedText}).");

    /// <summary>
    /// The family a ChatForge model is exported as: the one it was imported from when that still fits,
    /// else GPT-2 for LayerNorm/learned-position/GELU models, Qwen2 for RMSNorm models with a QKV bias, Llama otherwise.
    /// </summary>
    public static HfFamily ForModel(ModelConfig config)
    {
        var imported = All.FirstOrDefault(f => f.ModelType == config.ModelType);
        if (imported is not null && imported.ExportProblem(config) is null) return imported;
        HfFamily family = config.Norm == NormKind.LayerNorm ? All[3]
            : config.QkvBias && !config.AttnOutBias ? All[1]
            : All[0];
        string? problem = family.ExportProblem(config);
        if (problem is not null)
            throw new NotSupportedException($"This model cannot be written in a Hugging Face layout: as {family.Architecture}, {problem} (supported: {SupportedText}).");
        return family;
    }

    protected static int[] Shape(params int[] dims) => dims;
}
