namespace ChatForge.Engine.Kernels;

/// <summary>
/// Precomputed cos/sin for rotary position embeddings: for position p and pair i (0 ≤ i &lt; headDim/2) the angle is
/// p·θ^(−2i/headDim), as in Hugging Face Llama/Qwen. Angles are computed in double, so positions in the tens of
/// thousands keep full float accuracy (float32 p·inv_freq would lose ~1e-3 rad there). An optional
/// <see cref="Model.RopeScaling"/> rescales the frequencies first (Llama 3.1/3.2, linear scaling).
/// </summary>
public sealed class RopeTable
{
    public int HeadDim { get; }
    public int MaxPositions { get; }
    public float Theta { get; }

    readonly float[] _cos, _sin; // [MaxPositions, HeadDim / 2]

    public RopeTable(int headDim, int maxPositions, float theta, Model.RopeScaling? scaling = null)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentException($"RopeTable: head dimension must be positive and even, got {headDim}.", nameof(headDim));
        if (maxPositions <= 0) throw new ArgumentException($"RopeTable: maxPositions must be positive, got {maxPositions}.", nameof(maxPositions));
        if (!(theta > 1f) || float.IsInfinity(theta)) throw new ArgumentException($"RopeTable: theta must be a finite number above 1, got {theta}.", nameof(theta));
        if ((long)maxPositions * (headDim / 2) > Array.MaxLength)
            throw new ArgumentException($"RopeTable: {maxPositions} positions × {headDim / 2} pairs is too large for one table.", nameof(maxPositions));
        HeadDim = headDim;
        MaxPositions = maxPositions;
        Theta = theta;
        int half = headDim / 2;
        _cos = new float[maxPositions * half];
        _sin = new float[maxPositions * half];
        var invFreq = new double[half];
        for (int i = 0; i < half; i++) invFreq[i] = Math.Pow(theta, -2.0 * i / headDim);
        scaling?.Apply(invFreq);
        for (int p = 0; p < maxPositions; p++)
            for (int i = 0; i < half; i++)
            {
                double angle = p * invFreq[i];
                _cos[p * half + i] = (float)Math.Cos(angle);
                _sin[p * half + i] = (float)Math.Sin(angle);
            }
    }

    /// <summary>cos of the headDim/2 angles at one position.</summary>
    public ReadOnlySpan<float> Cos(int position) => _cos.AsSpan(CheckedOffset(position), HeadDim / 2);

    /// <summary>sin of the headDim/2 angles at one position.</summary>
    public ReadOnlySpan<float> Sin(int position) => _sin.AsSpan(CheckedOffset(position), HeadDim / 2);

    int CheckedOffset(int position) =>
        (uint)position < (uint)MaxPositions ? position * (HeadDim / 2)
        : throw new ArgumentOutOfRangeException(nameof(position), position, $"RoPE position {position} is outside the table [0, {MaxPositions}).");
}
