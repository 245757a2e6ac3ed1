namespace ChatForge.Engine.Kernels;

/// <summary>
/// AdamW hyper-parameters (defaults as nanoGPT/GPT-3: β₁ 0.9, β₂ 0.95, ε 1e-8, weight decay 0.1).
/// Weight decay goes only to tensors whose <see cref="Model.TensorSlot.WeightDecay"/> is true (matmul weights),
/// unless <paramref name="DecayAll"/> is set.
/// </summary>
public sealed record AdamWOptions(float Beta1 = 0.9f, float Beta2 = 0.95f, float Eps = 1e-8f, float WeightDecay = 0.1f, bool DecayAll = false)
{
    /// <summary>Throws ArgumentException naming the first out-of-range field.</summary>
    public void Validate()
    {
        if (!(Beta1 >= 0f && Beta1 < 1f)) throw new ArgumentException($"AdamW: beta1 must be in [0, 1), got {Beta1}.", nameof(Beta1));
        if (!(Beta2 >= 0f && Beta2 < 1f)) throw new ArgumentException($"AdamW: beta2 must be in [0, 1), got {Beta2}.", nameof(Beta2));
        if (!(Eps > 0f) || float.IsInfinity(Eps)) throw new ArgumentException($"AdamW: eps must be a positive finite number, got {Eps}.", nameof(Eps));
        if (!(WeightDecay >= 0f) || float.IsInfinity(WeightDecay)) throw new ArgumentException($"AdamW: weight decay must be a finite number ≥ 0, got {WeightDecay}.", nameof(WeightDecay));
    }
}
