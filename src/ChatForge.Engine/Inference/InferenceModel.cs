using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Inference;

/// <summary>One token to run through the model: which sequence (KV-cache slot), which token, at which position.</summary>
/// <param name="WantLogits">True for the rows whose next-token logits the caller needs (the last row of each sequence).</param>
public readonly record struct ForwardRow(int Slot, int Token, int Position, bool WantLogits);

/// <summary>
/// The inference path of the Transformer (nanochat's engine, separate from the training model): no saved
/// activations, keys and values kept in a <see cref="KvCache"/>. One <see cref="Forward"/> takes any set of
/// rows — a whole prompt of one sequence (prefill), one row per active sequence (a decode step), or both
/// at once — so a scheduler can batch every sequence into a single pass over the weights.
/// Not thread-safe: one caller (the decode loop) owns it.
/// </summary>
public sealed class InferenceModel
{
    readonly ParameterBuffer _parameters;
    readonly ParameterLayout _layout;
    readonly LayerWeights[] _layers;
    readonly LinearWeight _lmHead;
    readonly RopeTable? _rope;
    readonly int _d, _hd, _hq, _hkv, _qDim, _kvDim, _qkvDim, _ff, _upDim, _vocab;
    Scratch _scratch = new(0, 0, 0, 0, 0, 0, 0);
    float[] _dequant = [];
    readonly Func<long, float[]> _dequantScratch;
    int[] _nextPosition = [];

    public ModelConfig Config { get; }
    public WeightFormat Format { get; }
    public int VocabSize => _vocab;
    public int ContextLength => Config.ContextLength;

    /// <summary>Bytes of matmul weights one forward step reads (every layer's projections plus the LM head).</summary>
    public long MatmulWeightBytes { get; }

    sealed record LayerWeights(LayerSlots Slots, LinearWeight Qkv, LinearWeight Out, LinearWeight Up, LinearWeight Down);

    /// <param name="fileBlocks">The quantised matrices of the model file, for <see cref="WeightFormat.Gguf"/> (required by it, ignored otherwise).</param>
    public InferenceModel(ParameterBuffer parameters, WeightFormat format = WeightFormat.Bf16, FileBlocks? fileBlocks = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (format == WeightFormat.Gguf && fileBlocks is null)
            throw new ArgumentException("Weights 'gguf' serve a GGUF file's own quantised blocks, but this model was not loaded from a .gguf file (use bf16, q8_0, q4_0, q4_k or q6_k).");
        _parameters = parameters;
        _layout = parameters.Layout;
        Config = _layout.Config;
        Format = format;
        var c = Config;
        _d = c.HiddenSize; _hd = c.HeadDim; _hq = c.NumHeads; _hkv = c.NumKvHeads;
        _qDim = _hq * _hd; _kvDim = _hkv * _hd; _qkvDim = c.QkvDim; _ff = c.IntermediateSize;
        _upDim = c.Mlp == MlpKind.SwiGlu ? 2 * _ff : _ff;
        _vocab = c.VocabSize;

        LinearWeight Linear(TensorSlot slot) => new(parameters, slot, format, fileBlocks?.Parts(slot.Name));
        _layers = _layout.Layers.Select(l => new LayerWeights(l, Linear(l.QkvWeight), Linear(l.OutWeight), Linear(l.UpWeight), Linear(l.DownWeight))).ToArray();
        _lmHead = Linear(_layout.LmHead);
        MatmulWeightBytes = _layers.Sum(l => l.Qkv.Bytes + l.Out.Bytes + l.Up.Bytes + l.Down.Bytes) + _lmHead.Bytes;
        if (c.Position == PositionKind.Rope) _rope = new RopeTable(_hd, c.ContextLength, c.RopeTheta, c.RopeScaling);
        _dequantScratch = DequantScratch;
    }

    /// <summary>One fp32 buffer, sized to the largest weight, that int8 weights dequantise into for prefill-sized batches.</summary>
    float[] DequantScratch(long length)
    {
        if (_dequant.Length < length) _dequant = GC.AllocateUninitializedArray<float>((int)length, pinned: true);
        return _dequant;
    }

    /// <summary>
    /// A cache for up to <paramref name="slots"/> concurrent sequences of at most maxT (default: the context length) positions.
    /// Keys and values are bf16 unless asked otherwise or the weights are float32 (the exact reference path).
    /// </summary>
    public KvCache CreateCache(int slots, int maxT = 0, KvFormat? format = null) =>
        new(Config, slots, maxT > 0 ? maxT : Config.ContextLength, format ?? (Format == WeightFormat.F32 ? KvFormat.F32 : KvFormat.Bf16));

    /// <summary>
    /// Runs the rows through the model, writes their keys and values into the cache, and writes the logits
    /// of the rows with WantLogits into <paramref name="logits"/> [count, vocab] in row order.
    /// The rows of one slot must have consecutive positions in order, the first no later than the slot's
    /// current length (earlier rolls the sequence back); afterwards the slot's length is its last position + 1.
    /// </summary>
    public void Forward(ReadOnlySpan<ForwardRow> rows, KvCache cache, Span<float> logits)
    {
        int n = rows.Length, nLogits = CheckRows(rows, cache, logits.Length);
        var s = EnsureScratch(n, nLogits);
        for (int r = 0; r < n; r++) { s.Tokens[r] = rows[r].Token; s.Positions[r] = rows[r].Position; s.Slots[r] = rows[r].Slot; }
        var tokens = s.Tokens.AsSpan(0, n);
        var positions = s.Positions.AsSpan(0, n);
        var slots = s.Slots.AsSpan(0, n);
        var x = s.X.AsSpan(0, n * _d);
        var xn = s.Xn.AsSpan(0, n * _d);

        var positionTable = _layout.PositionEmbedding is { } pe ? (ReadOnlySpan<float>)_parameters[pe] : default;
        Embedding.Forward(tokens, positions, _parameters[_layout.TokenEmbedding], positionTable, x, _d);

        for (int l = 0; l < _layers.Length; l++)
        {
            var w = _layers[l];
            // Attention block: x += out(attention(rope(qkv(norm(x))))).
            Norm(x, w.Slots.AttnNormWeight, w.Slots.AttnNormBias, xn, n, s);
            var qkv = s.Qkv.AsSpan(0, n * _qkvDim);
            w.Qkv.Apply(xn, qkv, n, false, _dequantScratch);
            if (w.Slots.QkvBias is { } qkvBias) Bias.Forward(qkv, _parameters[qkvBias], n, _qkvDim);
            if (_rope is not null) Rope.Forward(qkv, positions, _rope, _hq, _hkv, _hd);
            var q = s.Q.AsSpan(0, n * _qDim);
            StoreKv(qkv, q, rows, cache, l);
            var att = s.Att.AsSpan(0, n * _qDim);
            switch (cache.Format)
            {
                case KvFormat.Bf16: Attention.CachedForward(q, slots, positions, cache.KeysBf16(l), cache.ValuesBf16(l), cache.MaxT, att, _hq, _hkv, _hd); break;
                case KvFormat.Int8:
                    Attention.CachedForward(q, slots, positions, cache.KeysInt8(l), cache.ValuesInt8(l), cache.KeyScales(l), cache.ValueScales(l), cache.MaxT, att, _hq, _hkv, _hd);
                    break;
                default: Attention.CachedForward(q, slots, positions, cache.Keys(l), cache.Values(l), cache.MaxT, att, _hq, _hkv, _hd); break;
            }
            w.Out.Apply(att, x, n, true, _dequantScratch);
            if (w.Slots.OutBias is { } outBias) Bias.Forward(x, _parameters[outBias], n, _d);

            // MLP block: x += down(act(up(norm(x)))).
            Norm(x, w.Slots.MlpNormWeight, w.Slots.MlpNormBias, xn, n, s);
            var up = s.Up.AsSpan(0, n * _upDim);
            w.Up.Apply(xn, up, n, false, _dequantScratch);
            if (w.Slots.UpBias is { } upBias) Bias.Forward(up, _parameters[upBias], n, _upDim);
            var act = s.Act.AsSpan(0, n * _ff);
            if (Config.Mlp == MlpKind.SwiGlu) SwiGlu.Forward(up, act, n, _ff);
            else Gelu.Forward(up, act);
            w.Down.Apply(act, x, n, true, _dequantScratch);
            if (w.Slots.DownBias is { } downBias) Bias.Forward(x, _parameters[downBias], n, _d);
        }

        if (nLogits == 0) return;
        // Only the rows asked for go through the final norm and the LM head (the vocabulary-wide matmul).
        var last = s.Last.AsSpan(0, nLogits * _d);
        for (int r = 0, j = 0; r < n; r++)
            if (rows[r].WantLogits) x.Slice(r * _d, _d).CopyTo(last.Slice(j++ * _d, _d));
        var lastNorm = s.LastNorm.AsSpan(0, nLogits * _d);
        Norm(last, _layout.FinalNormWeight, _layout.FinalNormBias, lastNorm, nLogits, s);
        _lmHead.Apply(lastNorm, logits[..(nLogits * _vocab)], nLogits, false, _dequantScratch);
    }

    /// <summary>Copies each row's rotated k and v into the cache at (slot, position) and gathers q contiguously for attention.</summary>
    void StoreKv(ReadOnlySpan<float> qkv, Span<float> q, ReadOnlySpan<ForwardRow> rows, KvCache cache, int layer)
    {
        for (int r = 0; r < rows.Length; r++)
        {
            var row = qkv.Slice(r * _qkvDim, _qkvDim);
            row[.._qDim].CopyTo(q.Slice(r * _qDim, _qDim));
            cache.Write(layer, rows[r].Slot, rows[r].Position, row.Slice(_qDim, _kvDim), row.Slice(_qDim + _kvDim, _kvDim));
        }
    }

    void Norm(ReadOnlySpan<float> x, TensorSlot weight, TensorSlot? bias, Span<float> output, int n, Scratch s)
    {
        if (Config.Norm == NormKind.LayerNorm)
            LayerNorm.Forward(x, _parameters[weight], _parameters[bias!], output, s.Mean.AsSpan(0, n), s.Rstd.AsSpan(0, n), n, _d, Config.NormEps);
        else
            RmsNorm.Forward(x, _parameters[weight], output, s.Rstd.AsSpan(0, n), n, _d, Config.NormEps);
    }

    /// <summary>Validates every row against the cache and updates each slot's length; returns how many rows want logits.</summary>
    int CheckRows(ReadOnlySpan<ForwardRow> rows, KvCache cache, int logitsLength)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (rows.IsEmpty) throw new ArgumentException("Forward: no rows.", nameof(rows));
        if (cache.Layers != _layers.Length || cache.KvDim != _kvDim)
            throw new ArgumentException($"Forward: cache is for {cache.Layers} layers × {cache.KvDim} kv floats, the model has {_layers.Length} × {_kvDim}.", nameof(cache));
        if (_nextPosition.Length < cache.Slots) _nextPosition = new int[cache.Slots];
        _nextPosition.AsSpan(0, cache.Slots).Fill(-1);
        int nLogits = 0;
        for (int r = 0; r < rows.Length; r++)
        {
            var row = rows[r];
            if (!cache.InUse(row.Slot)) throw new ArgumentException($"Forward: row {r} uses slot {row.Slot}, which is not allocated in the cache.", nameof(rows));
            if ((uint)row.Token >= (uint)_vocab) throw new ArgumentException($"Forward: row {r} has token {row.Token}, outside the vocabulary [0, {_vocab}).", nameof(rows));
            if ((uint)row.Position >= (uint)cache.MaxT)
                throw new ArgumentException($"Forward: row {r} has position {row.Position}, outside the cache's [0, {cache.MaxT}) (context full).", nameof(rows));
            int expected = _nextPosition[row.Slot];
            if (expected < 0 ? row.Position > cache.Length(row.Slot) : row.Position != expected)
                throw new ArgumentException(expected < 0
                    ? $"Forward: row {r} starts slot {row.Slot} at position {row.Position}, past its cached length {cache.Length(row.Slot)}."
                    : $"Forward: row {r} has position {row.Position} for slot {row.Slot}, expected {expected} (a slot's rows must be consecutive).", nameof(rows));
            _nextPosition[row.Slot] = row.Position + 1;
            if (row.WantLogits) nLogits++;
        }
        if (logitsLength < (long)nLogits * _vocab)
            throw new ArgumentException($"Forward: logits holds {logitsLength} floats, {nLogits} rows × vocab {_vocab} need {(long)nLogits * _vocab}.", "logits");
        for (int slot = 0; slot < cache.Slots; slot++)
            if (_nextPosition[slot] >= 0) cache.SetLength(slot, _nextPosition[slot]);
        return nLogits;
    }

    Scratch EnsureScratch(int rows, int logitRows)
    {
        if (_scratch.Rows < rows || _scratch.LogitRows < logitRows)
            _scratch = new Scratch(Math.Max(rows, _scratch.Rows), Math.Max(logitRows, _scratch.LogitRows), _d, _qkvDim, _qDim, _upDim, _ff);
        return _scratch;
    }

    /// <summary>Activation buffers for up to Rows rows, reused across calls (decode allocates nothing per step).</summary>
    sealed class Scratch(int rows, int logitRows, int d, int qkvDim, int qDim, int upDim, int ff)
    {
        public readonly int Rows = rows, LogitRows = logitRows;
        public readonly int[] Tokens = new int[rows], Positions = new int[rows], Slots = new int[rows];
        public readonly float[] X = new float[rows * d], Xn = new float[rows * d], Qkv = new float[rows * qkvDim],
            Q = new float[rows * qDim], Att = new float[rows * qDim], Up = new float[rows * upDim], Act = new float[rows * ff],
            Mean = new float[Math.Max(rows, logitRows)], Rstd = new float[Math.Max(rows, logitRows)],
            Last = new float[logitRows * d], LastNorm = new float[logitRows * d];
    }
}
