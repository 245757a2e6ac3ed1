namespace ChatForge.Engine.Model;

/// <summary>
/// Everything the forward pass saves for the backward pass, plus the backward pass's scratch, sized for
/// <see cref="MaxRows"/> = max batch × max T token rows and reused every step (no allocation per step).
/// A call with fewer rows uses the first rows·width floats of each buffer.
///
/// Per layer l (N rows): layer input x (the residual stream), attention-norm output and its statistics,
/// qkv after bias and RoPE (what attention read), attention output and log-sum-exp, the residual after
/// attention, MLP-norm output and statistics, MLP up-projection output (pre-activation) and activation.
/// For config b (d 512, 8 layers, N 4096) this is about 1 GiB.
/// </summary>
public sealed class Activations
{
    public int MaxRows { get; }
    public int MaxBatch { get; }
    public int MaxT { get; }
    public Layer[] Layers { get; }

    /// <summary>Input to the final norm (= the last layer's output) and the final norm's output and statistics.</summary>
    public float[] FinalInput { get; }
    public float[] Hidden { get; }
    public float[] FinalMean { get; }
    public float[] FinalRstd { get; }

    public int[] Positions { get; }
    /// <summary>The token ids of the last forward (embedding backward scatters into their rows).</summary>
    public int[] Tokens { get; }

    // Backward scratch, shared by all layers.
    public float[] DResidual { get; }
    public float[] DNorm { get; }
    public float[] DQkv { get; }
    public float[] DAttn { get; }
    public float[] DUp { get; }
    public float[] DAct { get; }
    public float[] DHidden { get; }
    public float[] LogProbs { get; }
    public float[] RowWeights { get; }

    public sealed class Layer
    {
        public required float[] Input, Norm1, Mean1, Rstd1, Qkv, Attn, Lse, Mid, Norm2, Mean2, Rstd2, Up, Act;
    }

    public Activations(ModelConfig config, int maxBatch, int maxT)
    {
        if (maxBatch <= 0 || maxT <= 0) throw new ArgumentOutOfRangeException(nameof(maxBatch), $"Activation shape must be positive, got [{maxBatch}, {maxT}].");
        long rows = (long)maxBatch * maxT;
        int d = config.HiddenSize, ff = config.IntermediateSize, qkv = config.QkvDim, attn = config.NumHeads * config.HeadDim;
        int up = config.Mlp == MlpKind.SwiGlu ? 2 * ff : ff;
        if (rows * Math.Max(up, Math.Max(qkv, d)) > Array.MaxLength)
            throw new NotSupportedException($"Activations for [{maxBatch}, {maxT}] rows × width {Math.Max(up, qkv)} exceed one array; use a smaller batch.");
        MaxBatch = maxBatch; MaxT = maxT; MaxRows = (int)rows;
        int n = MaxRows;

        float[] F(long length) => GC.AllocateUninitializedArray<float>((int)length);
        Layers = new Layer[config.NumLayers];
        for (int l = 0; l < Layers.Length; l++)
            Layers[l] = new Layer
            {
                Input = F(n * (long)d), Norm1 = F(n * (long)d), Mean1 = F(n), Rstd1 = F(n),
                Qkv = F(n * (long)qkv), Attn = F(n * (long)attn), Lse = F(n * (long)config.NumHeads),
                Mid = F(n * (long)d), Norm2 = F(n * (long)d), Mean2 = F(n), Rstd2 = F(n),
                Up = F(n * (long)up), Act = F(n * (long)ff),
            };
        FinalInput = F(n * (long)d); Hidden = F(n * (long)d); FinalMean = F(n); FinalRstd = F(n);
        Positions = new int[n];
        Tokens = new int[n];
        DResidual = F(n * (long)d); DNorm = F(n * (long)d); DQkv = F(n * (long)qkv); DAttn = F(n * (long)attn);
        DUp = F(n * (long)up); DAct = F(n * (long)ff); DHidden = F(n * (long)d);
        LogProbs = F(n); RowWeights = F(n);
    }

    /// <summary>Bytes held, for reports.</summary>
    public long Bytes(ModelConfig config)
    {
        long perLayer = Layers.Length == 0 ? 0 : Layers[0].GetType().GetFields().Sum(f => (long)((float[])f.GetValue(Layers[0])!).Length);
        long rest = FinalInput.Length * 2L + FinalMean.Length * 2L + DResidual.Length + DNorm.Length + DQkv.Length
                    + DAttn.Length + DUp.Length + DAct.Length + DHidden.Length + LogProbs.Length + RowWeights.Length + Positions.Length + Tokens.Length;
        return 4 * (perLayer * Layers.Length + rest);
    }
}
