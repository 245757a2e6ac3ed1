using ChatForge.Engine.Model;

namespace ChatForge.Engine.Training;

/// <summary>
/// Floating-point operations of one training token (forward + backward), the PaLM/nanoGPT count used by
/// bench/reference/torch_bench.py so MFU figures compare: 6 × parameters (each weight does a multiply-add
/// forward and two backward) + 12 × layers × T × (heads · head_dim) for attention scores and values
/// (counted as full T×T products, as PaLM does, although causal masking skips half).
/// </summary>
public static class TrainingFlops
{
    public static double PerToken(ModelConfig config, int t)
    {
        double parameters = new ParameterLayout(config).ParameterCount;
        double attention = 12.0 * config.NumLayers * t * config.NumHeads * config.HeadDim;
        return 6.0 * parameters + attention;
    }
}
