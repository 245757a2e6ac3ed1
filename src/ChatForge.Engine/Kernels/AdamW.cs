using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// AdamW with decoupled weight decay and bias-corrected moments, in the same arithmetic as torch.optim.AdamW:
///   m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
///   p ← p·(1 − lr·wd) − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε).
/// </summary>
public static class AdamW
{
    /// <summary>
    /// One optimizer step over every tensor of the layout. step is 1-based (the first update is step 1). Weight decay
    /// applies to tensors whose slot has WeightDecay (matmul weights) unless options.DecayAll. Padding between tensors is left alone.
    /// </summary>
    public static void Step(ParameterBuffer parameters, ParameterBuffer grads, ParameterBuffer m, ParameterBuffer v,
        AdamWOptions options, long step, float learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(grads);
        ArgumentNullException.ThrowIfNull(m);
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(options);
        var layout = parameters.Layout;
        SameLayout(layout, grads, nameof(grads));
        SameLayout(layout, m, nameof(m));
        SameLayout(layout, v, nameof(v));
        CheckScalars(options, step, learningRate);
        foreach (var slot in layout.Tensors)
            UpdateUnchecked(parameters[slot], grads[slot], m[slot], v[slot], options, step, learningRate, options.DecayAll || slot.WeightDecay);
    }

    /// <summary>The same update on one tensor given as spans (also for parameters kept outside a ParameterBuffer, e.g. a value head).</summary>
    public static void Update(Span<float> parameters, ReadOnlySpan<float> grads, Span<float> m, Span<float> v,
        AdamWOptions options, long step, float learningRate, bool decay)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string K = "AdamW.Update";
        int n = parameters.Length;
        KernelArgs.Length(K, nameof(grads), grads.Length, n, $"[{n}] (same as parameters)");
        KernelArgs.Length(K, nameof(m), m.Length, n, $"[{n}] (same as parameters)");
        KernelArgs.Length(K, nameof(v), v.Length, n, $"[{n}] (same as parameters)");
        CheckScalars(options, step, learningRate);
        UpdateUnchecked(parameters, grads, m, v, options, step, learningRate, decay);
    }

    static void SameLayout(ParameterLayout layout, ParameterBuffer other, string name)
    {
        if (!ReferenceEquals(other.Layout, layout) && other.Data.Length != layout.TotalLength)
            throw new ArgumentException($"AdamW.Step: {name} has {other.Data.Length} floats but the parameters' layout has {layout.TotalLength}.", name);
    }

    static void CheckScalars(AdamWOptions options, long step, float learningRate)
    {
        options.Validate();
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "AdamW: step is 1-based and must be at least 1.");
        if (!(learningRate >= 0f) || float.IsInfinity(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "AdamW: learning rate must be a finite number ≥ 0.");
    }

    static unsafe void UpdateUnchecked(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        AdamWOptions o, long step, float lr, bool decay)
    {
        // Bias corrections in double: β₂ᵗ for t in the hundreds of thousands underflows gracefully to 0 there.
        var c = new Constants
        {
            Beta1 = o.Beta1,
            Beta2 = o.Beta2,
            Eps = o.Eps,
            Decay = decay ? 1f - lr * o.WeightDecay : 1f,
            StepSize = (float)(lr / (1.0 - Math.Pow(o.Beta1, step))),
            InvSqrtBc2 = (float)(1.0 / Math.Sqrt(1.0 - Math.Pow(o.Beta2, step))),
        };
        var level = Simd.Level;
        int n = p.Length;
        if (!RowBlocks.ShouldSplit(n, 1))
        {
            Range(p, g, m, v, c, level);
            return;
        }
        fixed (float* pp = p, pg = g, pm = m, pv = v)
        {
            float* ap = pp, ag = pg, am = pm, av = pv;
            RowBlocks.ForAligned(n, 64, (lo, hi) => Range(new Span<float>(ap + lo, hi - lo), new ReadOnlySpan<float>(ag + lo, hi - lo),
                new Span<float>(am + lo, hi - lo), new Span<float>(av + lo, hi - lo), c, level));
        }
    }

    struct Constants
    {
        public float Beta1, Beta2, Eps, Decay, StepSize, InvSqrtBc2;
    }

    static void Range(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, Constants c, SimdLevel level)
    {
        ref float pp = ref MemoryMarshal.GetReference(p);
        ref float pg = ref MemoryMarshal.GetReference(g);
        ref float pm = ref MemoryMarshal.GetReference(m);
        ref float pv = ref MemoryMarshal.GetReference(v);
        int n = p.Length, i = 0;
        float oneMinusB1 = 1f - c.Beta1, oneMinusB2 = 1f - c.Beta2;
        if (level == SimdLevel.Vector512)
        {
            var b1 = Vector512.Create(c.Beta1);
            var b2 = Vector512.Create(c.Beta2);
            var a1 = Vector512.Create(oneMinusB1);
            var a2 = Vector512.Create(oneMinusB2);
            var eps = Vector512.Create(c.Eps);
            var decay = Vector512.Create(c.Decay);
            var stepSize = Vector512.Create(c.StepSize);
            var invSqrtBc2 = Vector512.Create(c.InvSqrtBc2);
            for (; i <= n - 16; i += 16)
            {
                var gi = Vector512.LoadUnsafe(ref pg, (nuint)i);
                var mi = Vector512.FusedMultiplyAdd(b1, Vector512.LoadUnsafe(ref pm, (nuint)i), a1 * gi);
                var vi = Vector512.FusedMultiplyAdd(b2, Vector512.LoadUnsafe(ref pv, (nuint)i), a2 * gi * gi);
                mi.StoreUnsafe(ref pm, (nuint)i);
                vi.StoreUnsafe(ref pv, (nuint)i);
                var denom = Vector512.FusedMultiplyAdd(Vector512.Sqrt(vi), invSqrtBc2, eps);
                (Vector512.LoadUnsafe(ref pp, (nuint)i) * decay - stepSize * mi / denom).StoreUnsafe(ref pp, (nuint)i);
            }
        }
        else if (level == SimdLevel.Vector256)
        {
            var b1 = Vector256.Create(c.Beta1);
            var b2 = Vector256.Create(c.Beta2);
            var a1 = Vector256.Create(oneMinusB1);
            var a2 = Vector256.Create(oneMinusB2);
            var eps = Vector256.Create(c.Eps);
            var decay = Vector256.Create(c.Decay);
            var stepSize = Vector256.Create(c.StepSize);
            var invSqrtBc2 = Vector256.Create(c.InvSqrtBc2);
            for (; i <= n - 8; i += 8)
            {
                var gi = Vector256.LoadUnsafe(ref pg, (nuint)i);
                var mi = Vector256.FusedMultiplyAdd(b1, Vector256.LoadUnsafe(ref pm, (nuint)i), a1 * gi);
                var vi = Vector256.FusedMultiplyAdd(b2, Vector256.LoadUnsafe(ref pv, (nuint)i), a2 * gi * gi);
                mi.StoreUnsafe(ref pm, (nuint)i);
                vi.StoreUnsafe(ref pv, (nuint)i);
                var denom = Vector256.FusedMultiplyAdd(Vector256.Sqrt(vi), invSqrtBc2, eps);
                (Vector256.LoadUnsafe(ref pp, (nuint)i) * decay - stepSize * mi / denom).StoreUnsafe(ref pp, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float gi = Unsafe.Add(ref pg, i);
            float mi = c.Beta1 * Unsafe.Add(ref pm, i) + oneMinusB1 * gi;
            float vi = c.Beta2 * Unsafe.Add(ref pv, i) + oneMinusB2 * gi * gi;
            Unsafe.Add(ref pm, i) = mi;
            Unsafe.Add(ref pv, i) = vi;
            Unsafe.Add(ref pp, i) = Unsafe.Add(ref pp, i) * c.Decay - c.StepSize * mi / (MathF.Sqrt(vi) * c.InvSqrtBc2 + c.Eps);
        }
    }
}
