using System.Text.Json.Serialization;

namespace ChatForge.Engine.Model;

/// <summary>
/// How a model rescales its RoPE frequencies to reach a longer context than it was first trained on, in the terms of
/// Hugging Face's config.json `rope_scaling`. Two kinds change every position's angles and so must be reproduced
/// exactly for imported weights to give the right logits:
/// "linear" divides every frequency by <see cref="Factor"/>; "llama3" (Llama 3.1/3.2) keeps the high frequencies,
/// divides the low ones by <see cref="Factor"/> and blends the band in between.
/// </summary>
public sealed record RopeScaling
{
    public const string Linear = "linear", Llama3 = "llama3";

    [JsonPropertyName("rope_type")] public string RopeType { get; init; } = Llama3;
    [JsonPropertyName("factor")] public double Factor { get; init; } = 1;
    [JsonPropertyName("low_freq_factor")] public double LowFreqFactor { get; init; } = 1;
    [JsonPropertyName("high_freq_factor")] public double HighFreqFactor { get; init; } = 4;
    [JsonPropertyName("original_max_position_embeddings")] public int OriginalContextLength { get; init; } = 8192;

    public void Validate()
    {
        if (RopeType is not (Linear or Llama3))
            throw new ArgumentException($"Model config: rope_scaling type '{RopeType}' is not supported (supported: {Linear}, {Llama3}).");
        if (!(Factor >= 1) || double.IsInfinity(Factor)) throw new ArgumentException($"Model config: rope_scaling factor must be a finite number ≥ 1, got {Factor}.");
        if (RopeType == Llama3)
        {
            if (!(LowFreqFactor > 0) || !(HighFreqFactor > LowFreqFactor))
                throw new ArgumentException($"Model config: llama3 rope_scaling needs 0 < low_freq_factor < high_freq_factor, got {LowFreqFactor} and {HighFreqFactor}.");
            if (OriginalContextLength <= 0)
                throw new ArgumentException($"Model config: llama3 rope_scaling needs a positive original_max_position_embeddings, got {OriginalContextLength}.");
        }
    }

    /// <summary>Rescales the inverse frequencies θ^(−2i/d) in place.</summary>
    public void Apply(Span<double> invFreq)
    {
        if (RopeType == Linear)
        {
            for (int i = 0; i < invFreq.Length; i++) invFreq[i] /= Factor;
            return;
        }
        // Wavelengths shorter than original/high_freq_factor tokens are left alone (they resolve local order);
        // longer than original/low_freq_factor are stretched by Factor; in between, interpolate on original/wavelength.
        double lowFreqWavelength = OriginalContextLength / LowFreqFactor;
        double highFreqWavelength = OriginalContextLength / HighFreqFactor;
        for (int i = 0; i < invFreq.Length; i++)
        {
            double wavelength = 2 * Math.PI / invFreq[i];
            if (wavelength < highFreqWavelength) continue;
            if (wavelength > lowFreqWavelength) { invFreq[i] /= Factor; continue; }
            double smooth = (OriginalContextLength / wavelength - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
            invFreq[i] = (1 - smooth) * invFreq[i] / Factor + smooth * invFreq[i];
        }
    }
}
