using ChatForge.Engine.Kernels;
using ChatForge.Engine.Training;

namespace ChatForge.Engine.Model;

/// <summary>
/// The trainable decoder-only Transformer (llm.c style: every layer's forward and backward side by side,
/// activations in flat row-major buffers). Pre-norm blocks: x += attn(norm1(x)); x += mlp(norm2(x)); then a
/// final norm. Covers every shape <see cref="ModelConfig"/> expresses (GPT-2, Llama, Qwen2).
///
/// Heads are pluggable: <see cref="ForwardHidden"/> returns the final-normed hidden states and
/// <see cref="BackwardHidden"/> takes their gradient, so a language-model head (here), a reward head or a
/// policy-gradient loss can sit on top. Gradients accumulate into <see cref="Grads"/> until <see cref="ZeroGrad"/>.
/// </summary>
public sealed class Transformer
{
    public ModelConfig Config { get; }
    public ParameterLayout Layout { get; }
    public ParameterBuffer Parameters { get; }
    public ParameterBuffer Grads { get; }

    readonly RopeTable? _rope;
    Activations? _acts;
    int _batch, _t; // shape of the last ForwardHidden; 0 when there is none to backpropagate

    /// <summary>A freshly initialised model (GPT-2 init, deterministic in <paramref name="seed"/>).</summary>
    public Transformer(ModelConfig config, ulong seed) : this(new ParameterBuffer(new ParameterLayout(config)))
    {
        InitializeWeights(seed);
    }

    /// <summary>A model over existing parameters (a loaded checkpoint); the buffer is used, not copied.</summary>
    public Transformer(ParameterBuffer parameters)
    {
        Parameters = parameters;
        Layout = parameters.Layout;
        Config = Layout.Config;
        Grads = new ParameterBuffer(Layout);
        if (Config.Position == PositionKind.Rope) _rope = new RopeTable(Config.HeadDim, Config.ContextLength, Config.RopeTheta, Config.RopeScaling);
    }

    /// <summary>The saved activations, allocated for the largest (batch, T) seen so far.</summary>
    public Activations? Activations => _acts;

    /// <summary>Allocates activations for up to [maxBatch, maxT] now rather than on the first step.</summary>
    public void EnsureCapacity(int maxBatch, int maxT)
    {
        CheckShape(maxBatch, maxT);
        // Kernels only see the first batch·t rows of each buffer, so any shape with as few rows fits.
        if (_acts is not null && (long)maxBatch * maxT <= _acts.MaxRows) return;
        _acts = null; // let the old buffers go before allocating the new ones
        _acts = new Activations(Config, Math.Max(maxBatch, 1), maxT);
    }

    public void ZeroGrad() => Array.Clear(Grads.Data);

    /// <summary>GPT-2 init: weights N(0, 0.02), residual projections (attn.out, mlp.down) scaled by 1/√(2·layers), norms 1, biases 0.</summary>
    public void InitializeWeights(ulong seed)
    {
        var rng = new SplitMix64(seed);
        float residualStd = 0.02f / MathF.Sqrt(2 * Config.NumLayers);
        var residual = new HashSet<TensorSlot>(Layout.Layers.SelectMany(l => new[] { l.OutWeight, l.DownWeight }));
        foreach (var slot in Layout.Tensors)
        {
            var data = Parameters[slot];
            if (slot.Name.EndsWith(".bias", StringComparison.Ordinal)) data.Clear();
            else if (slot.Name.Contains("norm", StringComparison.Ordinal)) data.Fill(1f);
            else
            {
                float std = residual.Contains(slot) ? residualStd : 0.02f;
                for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextGaussian() * std);
            }
        }
    }

    // ---------------------------------------------------------------- forward

    /// <summary>
    /// Runs the network on tokens [batch, t] (positions 0..t−1 in every row) and returns the final-normed
    /// hidden states [batch·t, d]. Saves the activations that <see cref="BackwardHidden"/> needs.
    /// </summary>
    public ReadOnlySpan<float> ForwardHidden(ReadOnlySpan<int> tokens, int batch, int t)
    {
        CheckShape(batch, t);
        if (tokens.Length != batch * t)
            throw new ArgumentException($"Tokens hold {tokens.Length} ids but the shape is [batch {batch}, t {t}] = {batch * t}.", nameof(tokens));
        int vocab = Config.VocabSize;
        for (int i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)vocab)
                throw new ArgumentException($"Token id {tokens[i]} at row {i / t}, position {i % t} is outside the vocabulary [0, {vocab}).", nameof(tokens));
        EnsureCapacity(batch, t);
        var a = _acts!;
        int n = batch * t, d = Config.HiddenSize;
        var positions = a.Positions.AsSpan(0, n);
        for (int r = 0; r < n; r++) positions[r] = r % t;
        tokens.CopyTo(a.Tokens);

        var p = Parameters;
        ReadOnlySpan<float> positionTable = Layout.PositionEmbedding is { } pe ? p[pe] : default;
        var x = (a.Layers.Length > 0 ? a.Layers[0].Input : a.FinalInput).AsSpan(0, n * d);
        Embedding.Forward(tokens, positions, p[Layout.TokenEmbedding], positionTable, x, d);

        for (int l = 0; l < a.Layers.Length; l++)
        {
            var next = (l + 1 < a.Layers.Length ? a.Layers[l + 1].Input : a.FinalInput).AsSpan(0, n * d);
            LayerForward(l, batch, t, next);
        }

        NormForward(a.FinalInput, Layout.FinalNormWeight, Layout.FinalNormBias, a.Hidden, a.FinalMean, a.FinalRstd, n);
        _batch = batch; _t = t;
        return a.Hidden.AsSpan(0, n * d);
    }

    void LayerForward(int l, int batch, int t, Span<float> output)
    {
        var c = Config;
        var s = Layout.Layers[l];
        var la = _acts!.Layers[l];
        var p = Parameters;
        int n = batch * t, d = c.HiddenSize, ff = c.IntermediateSize, qkvDim = c.QkvDim, attnDim = c.NumHeads * c.HeadDim;
        int upDim = c.Mlp == MlpKind.SwiGlu ? 2 * ff : ff;

        // Attention block: mid = x + out(attn(rope(qkv(norm1(x))))).
        NormForward(la.Input, s.AttnNormWeight, s.AttnNormBias, la.Norm1, la.Mean1, la.Rstd1, n);
        var qkv = la.Qkv.AsSpan(0, n * qkvDim);
        Linear(la.Norm1.AsSpan(0, n * d), p[s.QkvWeight], s.QkvBias, qkv, n, qkvDim, d, accumulate: false);
        if (_rope is not null) Rope.Forward(qkv, _acts.Positions.AsSpan(0, n), _rope, c.NumHeads, c.NumKvHeads, c.HeadDim);
        var attn = la.Attn.AsSpan(0, n * attnDim);
        Attention.Forward(qkv, attn, la.Lse.AsSpan(0, n * c.NumHeads), batch, t, c.NumHeads, c.NumKvHeads, c.HeadDim);
        var mid = la.Mid.AsSpan(0, n * d);
        la.Input.AsSpan(0, n * d).CopyTo(mid);
        Linear(attn, p[s.OutWeight], s.OutBias, mid, n, d, attnDim, accumulate: true);

        // MLP block: output = mid + down(act(up(norm2(mid)))).
        NormForward(la.Mid, s.MlpNormWeight, s.MlpNormBias, la.Norm2, la.Mean2, la.Rstd2, n);
        var up = la.Up.AsSpan(0, n * upDim);
        Linear(la.Norm2.AsSpan(0, n * d), p[s.UpWeight], s.UpBias, up, n, upDim, d, accumulate: false);
        var act = la.Act.AsSpan(0, n * ff);
        if (c.Mlp == MlpKind.SwiGlu) SwiGlu.Forward(up, act, n, ff);
        else Gelu.Forward(up, act);
        mid.CopyTo(output);
        Linear(act, p[s.DownWeight], s.DownBias, output, n, d, ff, accumulate: true);
    }

    /// <summary>y (+)= x·Wᵀ + bias with W stored [outDim, inDim].</summary>
    void Linear(ReadOnlySpan<float> x, ReadOnlySpan<float> w, TensorSlot? bias, Span<float> y, int n, int outDim, int inDim, bool accumulate)
    {
        Gemm.MatMul(x, w, y, n, outDim, inDim, transB: true, accumulate: accumulate);
        if (bias is not null) Bias.Forward(y, Parameters[bias], n, outDim);
    }

    void NormForward(float[] x, TensorSlot weight, TensorSlot? bias, float[] output, float[] mean, float[] rstd, int n)
    {
        int d = Config.HiddenSize;
        if (Config.Norm == NormKind.LayerNorm)
            LayerNorm.Forward(x.AsSpan(0, n * d), Parameters[weight], Parameters[bias!], output.AsSpan(0, n * d), mean.AsSpan(0, n), rstd.AsSpan(0, n), n, d, Config.NormEps);
        else
            RmsNorm.Forward(x.AsSpan(0, n * d), Parameters[weight], output.AsSpan(0, n * d), rstd.AsSpan(0, n), n, d, Config.NormEps);
    }

    // ---------------------------------------------------------------- backward

    /// <summary>
    /// Backpropagates dHidden [batch·t, d] (the gradient of the loss with respect to the last
    /// <see cref="ForwardHidden"/> output) through the network, accumulating into <see cref="Grads"/>.
    /// </summary>
    public void BackwardHidden(ReadOnlySpan<float> dHidden)
    {
        if (_batch == 0) throw new InvalidOperationException("BackwardHidden needs a ForwardHidden first (the activations it saved are gone or were never made).");
        int batch = _batch, t = _t, n = batch * t, d = Config.HiddenSize;
        if (dHidden.Length != n * d)
            throw new ArgumentException($"dHidden holds {dHidden.Length} floats but the last forward was [{n}, {d}] (batch {batch} × t {t} rows, d {d}).", nameof(dHidden));
        var a = _acts!;
        var g = Grads;
        var dResidual = a.DResidual.AsSpan(0, n * d);
        dResidual.Clear();
        NormBackward(dHidden, a.FinalInput, Layout.FinalNormWeight, Layout.FinalNormBias, a.FinalMean, a.FinalRstd, dResidual, n);

        for (int l = a.Layers.Length - 1; l >= 0; l--) LayerBackward(l, batch, t, dResidual);

        ReadOnlySpan<int> positions = a.Positions.AsSpan(0, n);
        Span<float> dPositionTable = Layout.PositionEmbedding is { } pe ? g[pe] : default;
        Embedding.Backward(dResidual, a.Tokens.AsSpan(0, n), positions, g[Layout.TokenEmbedding], dPositionTable, d);
    }

    /// <summary>dResidual holds dLoss/d(layer output) on entry and dLoss/d(layer input) on return.</summary>
    void LayerBackward(int l, int batch, int t, Span<float> dResidual)
    {
        var c = Config;
        var s = Layout.Layers[l];
        var la = _acts!.Layers[l];
        var a = _acts;
        var p = Parameters;
        var g = Grads;
        int n = batch * t, d = c.HiddenSize, ff = c.IntermediateSize, qkvDim = c.QkvDim, attnDim = c.NumHeads * c.HeadDim;
        int upDim = c.Mlp == MlpKind.SwiGlu ? 2 * ff : ff;

        // MLP block. The residual passes dResidual through unchanged; the branch adds its part via norm2's backward.
        var dAct = a.DAct.AsSpan(0, n * ff);
        LinearBackward(dResidual, la.Act.AsSpan(0, n * ff), p[s.DownWeight], g[s.DownWeight], s.DownBias, dAct, n, d, ff);
        var dUp = a.DUp.AsSpan(0, n * upDim);
        var up = la.Up.AsSpan(0, n * upDim);
        if (c.Mlp == MlpKind.SwiGlu) SwiGlu.Backward(dAct, up, dUp, n, ff);
        else Gelu.Backward(dAct, up, dUp);
        var dNorm = a.DNorm.AsSpan(0, n * d);
        LinearBackward(dUp, la.Norm2.AsSpan(0, n * d), p[s.UpWeight], g[s.UpWeight], s.UpBias, dNorm, n, upDim, d);
        NormBackward(dNorm, la.Mid, s.MlpNormWeight, s.MlpNormBias, la.Mean2, la.Rstd2, dResidual, n);

        // Attention block.
        var dAttn = a.DAttn.AsSpan(0, n * attnDim);
        LinearBackward(dResidual, la.Attn.AsSpan(0, n * attnDim), p[s.OutWeight], g[s.OutWeight], s.OutBias, dAttn, n, d, attnDim);
        var dQkv = a.DQkv.AsSpan(0, n * qkvDim);
        Attention.Backward(dAttn, la.Qkv.AsSpan(0, n * qkvDim), la.Attn.AsSpan(0, n * attnDim), la.Lse.AsSpan(0, n * c.NumHeads), dQkv,
            batch, t, c.NumHeads, c.NumKvHeads, c.HeadDim);
        if (_rope is not null) Rope.Backward(dQkv, a.Positions.AsSpan(0, n), _rope, c.NumHeads, c.NumKvHeads, c.HeadDim);
        LinearBackward(dQkv, la.Norm1.AsSpan(0, n * d), p[s.QkvWeight], g[s.QkvWeight], s.QkvBias, dNorm, n, qkvDim, d);
        NormBackward(dNorm, la.Input, s.AttnNormWeight, s.AttnNormBias, la.Mean1, la.Rstd1, dResidual, n);
    }

    /// <summary>For y = x·Wᵀ + b: dW += dyᵀ·x, db += Σ dy, and dx = dy·W (written).</summary>
    void LinearBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> dW, TensorSlot? bias, Span<float> dx, int n, int outDim, int inDim)
    {
        Gemm.MatMul(dy, x, dW, outDim, inDim, n, transA: true, accumulate: true);
        if (bias is not null) Bias.Backward(dy, Grads[bias], n, outDim);
        Gemm.MatMul(dy, w, dx, n, inDim, outDim);
    }

    /// <summary>Norm backward; the input gradient is ADDED to dx (the residual stream's gradient).</summary>
    void NormBackward(ReadOnlySpan<float> dOutput, float[] x, TensorSlot weight, TensorSlot? bias, float[] mean, float[] rstd, Span<float> dx, int n)
    {
        int d = Config.HiddenSize;
        if (Config.Norm == NormKind.LayerNorm)
            LayerNorm.Backward(dOutput, x.AsSpan(0, n * d), Parameters[weight], mean.AsSpan(0, n), rstd.AsSpan(0, n), dx, Grads[weight], Grads[bias!], n, d);
        else
            RmsNorm.Backward(dOutput, x.AsSpan(0, n * d), Parameters[weight], rstd.AsSpan(0, n), dx, Grads[weight], n, d);
    }

    // ---------------------------------------------------------------- language-model head

    /// <summary>
    /// One training step's forward and backward with the language-model head: cross-entropy of
    /// <paramref name="targets"/> (−1 = ignored) given <paramref name="tokens"/>, both [batch, t]. Gradients
    /// accumulate into <see cref="Grads"/>. The loss is Σ rowWeights[r]·(−log p(target_r)); with no weights
    /// given, each valid row weighs 1/(number of valid targets) — the mean cross-entropy. Optionally writes
    /// log p(target) per row into <paramref name="logProbs"/> (0 for ignored rows).
    /// The LM head is chunked over the vocabulary, so [rows, vocab] logits never exist.
    /// </summary>
    public float LanguageModelLoss(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int t,
        ReadOnlySpan<float> rowWeights = default, Span<float> logProbs = default)
    {
        int n = batch * t, d = Config.HiddenSize, vocab = Config.VocabSize;
        CheckTargets(targets, batch, t);
        if (!rowWeights.IsEmpty && rowWeights.Length != n)
            throw new ArgumentException($"rowWeights hold {rowWeights.Length} values but the batch has {n} rows ([batch {batch}, t {t}]).", nameof(rowWeights));
        if (!logProbs.IsEmpty && logProbs.Length != n)
            throw new ArgumentException($"logProbs holds {logProbs.Length} values but the batch has {n} rows ([batch {batch}, t {t}]).", nameof(logProbs));

        var hidden = ForwardHidden(tokens, batch, t);
        var a = _acts!;
        if (rowWeights.IsEmpty)
        {
            var weights = a.RowWeights.AsSpan(0, n);
            int valid = 0;
            foreach (int target in targets) if (target >= 0) valid++;
            float w = valid > 0 ? 1f / valid : 0f;
            for (int r = 0; r < n; r++) weights[r] = targets[r] >= 0 ? w : 0f;
            rowWeights = weights;
        }
        if (logProbs.IsEmpty) logProbs = a.LogProbs.AsSpan(0, n);
        var dHidden = a.DHidden.AsSpan(0, n * d);
        float loss = LmHeadLoss.ForwardBackward(hidden, Parameters[Layout.LmHead], targets, rowWeights, logProbs, dHidden, Grads[Layout.LmHead], n, d, vocab);
        BackwardHidden(dHidden);
        return loss;
    }

    /// <summary>Mean cross-entropy (nats) over the valid targets, without gradients; writes log p(target) per row when asked.</summary>
    public float Evaluate(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int t, Span<float> logProbs = default)
    {
        int n = batch * t;
        CheckTargets(targets, batch, t);
        if (!logProbs.IsEmpty && logProbs.Length != n)
            throw new ArgumentException($"logProbs holds {logProbs.Length} values but the batch has {n} rows ([batch {batch}, t {t}]).", nameof(logProbs));
        var hidden = ForwardHidden(tokens, batch, t);
        _batch = 0; // nothing to backpropagate: gradients were not asked for
        if (logProbs.IsEmpty) logProbs = _acts!.LogProbs.AsSpan(0, n);
        LmHeadLoss.Forward(hidden, Parameters[Layout.LmHead], targets, logProbs, default, n, Config.HiddenSize, Config.VocabSize);
        double sum = 0;
        int valid = 0;
        for (int r = 0; r < n; r++)
            if (targets[r] >= 0) { sum -= logProbs[r]; valid++; }
        return valid > 0 ? (float)(sum / valid) : 0f;
    }

    void CheckTargets(ReadOnlySpan<int> targets, int batch, int t)
    {
        if (targets.Length != batch * t)
            throw new ArgumentException($"Targets hold {targets.Length} ids but the shape is [batch {batch}, t {t}] = {batch * t}.", nameof(targets));
        int vocab = Config.VocabSize;
        for (int i = 0; i < targets.Length; i++)
            if (targets[i] < -1 || targets[i] >= vocab)
                throw new ArgumentException($"Target id {targets[i]} at row {i / t}, position {i % t} is outside the vocabulary [0, {vocab}) (−1 = ignore).", nameof(targets));
    }

    void CheckShape(int batch, int t)
    {
        if (batch <= 0 || t <= 0) throw new ArgumentOutOfRangeException(nameof(batch), $"Batch shape must be positive, got [batch {batch}, t {t}].");
        if (t > Config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(t), $"Sequence length {t} exceeds the model's context length (max_position_embeddings {Config.ContextLength}).");
    }
}
