using ChatForge.Engine.Model;

namespace ChatForge.Engine.Training;

/// <summary>
/// Floating-point operations of one training token (forward + backward), the llm.c/PaLM count:
/// 6 × (weights that take part in a matmul, the LM head included) + 6 × layers × T × (heads · head_dim)
/// for causal attention (QKᵀ and P·V, each half a T×T product on average, times 3 for forward + backward).
/// Embedding lookups, norms and biases are not counted.
/// </summary>
public static class TrainingFlops
{
    public static double PerToken(ModelConfig config, int t)
    {
        var layout = new ParameterLayout(config);
        double matmulWeights = layout.LmHead.Length;
        foreach (var layer in layout.Layers)
            matmulWeights += layer.QkvWeight.Length + layer.OutWeight.Length + layer.UpWeight.Length + layer.DownWeight.Length;
        double attention = 6.0 * config.NumLayers * t * config.NumHeads * config.HeadDim;
        return 6.0 * matmulWeights + attention;
    }
}
