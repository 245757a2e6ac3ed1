namespace ChatForge.Engine.Inference;

/// <summary>One request inside the scheduler: its prompt, sampler, progress through the KV cache and where its tokens go.</summary>
internal sealed class DecodeSequence(GenerationRequest request, Sampler sampler, Action<GenerationStep> emit, Action<Exception> fail)
{
    public readonly int[] Prompt = request.PromptTokens.ToArray();
    public readonly int MaxNewTokens = request.MaxNewTokens;
    public readonly HashSet<int> StopTokens = new(request.StopTokens);
    public readonly Sampler Sampler = sampler;
    public int Slot = -1;
    /// <summary>Tokens already written to the cache (prompt first, then generated tokens).</summary>
    public int Fed;
    public int Generated;
    /// <summary>The last sampled token, fed at position Fed in the next decode step.</summary>
    public int Pending = -1;
    volatile bool _cancelRequested;
    int _finished;

    public bool CancelRequested => _cancelRequested;
    public bool IsFinished => Volatile.Read(ref _finished) != 0;
    public bool IsPrefilling => Fed < Prompt.Length;

    /// <summary>Thread-safe: the loop notices at its next step.</summary>
    public void RequestCancel() => _cancelRequested = true;

    public void Emit(int token) => emit(new GenerationStep(token, null));

    /// <summary>Sends the single final step; later calls do nothing.</summary>
    public void Finish(FinishReason reason)
    {
        if (Interlocked.Exchange(ref _finished, 1) == 0) emit(GenerationStep.End(reason));
    }

    public void Fail(Exception error)
    {
        if (Interlocked.Exchange(ref _finished, 1) == 0) fail(error);
    }
}

/// <summary>
/// Continuous batching over one <see cref="InferenceModel"/> and <see cref="KvCache"/>: sequences wait for a
/// free slot, get their prompt prefilled in chunks, then decode together — every step is ONE forward with a
/// row per decoding sequence plus as many prefill rows as the chunk budget allows. Finished and cancelled
/// sequences leave (freeing their slot) before the next step, so waiting ones join between steps.
/// Not thread-safe: one loop drives it.
/// </summary>
internal sealed class BatchScheduler
{
    readonly InferenceModel _model;
    readonly KvCache _cache;
    readonly int _prefillChunk;
    readonly Queue<DecodeSequence> _waiting = new();
    readonly List<DecodeSequence> _active = new();
    readonly ForwardRow[] _rows;
    readonly DecodeSequence?[] _logitOwner;
    readonly float[] _logits;

    public BatchScheduler(InferenceModel model, KvCache cache, int prefillChunk)
    {
        if (prefillChunk <= 0) throw new ArgumentOutOfRangeException(nameof(prefillChunk), prefillChunk, "Prefill chunk must be positive.");
        _model = model;
        _cache = cache;
        _prefillChunk = prefillChunk;
        _rows = new ForwardRow[cache.Slots + prefillChunk];
        _logitOwner = new DecodeSequence?[cache.Slots];
        _logits = new float[cache.Slots * model.VocabSize];
    }

    public int MaxT => _cache.MaxT;
    public int ActiveCount => _active.Count;
    public int WaitingCount => _waiting.Count;
    public bool HasWork => _active.Count > 0 || _waiting.Count > 0;

    public void Add(DecodeSequence sequence) => _waiting.Enqueue(sequence);

    /// <summary>Retires cancelled sequences, admits waiting ones into free slots, and runs one forward + sampling step.</summary>
    public void Step()
    {
        RetireCancelled();
        Admit();
        if (_active.Count == 0) return;

        // Decode rows first (one per sequence past its prompt), then prefill chunks up to the budget.
        int n = 0, nLogits = 0, budget = _prefillChunk;
        foreach (var seq in _active)
        {
            if (seq.IsPrefilling) continue;
            _rows[n++] = new ForwardRow(seq.Slot, seq.Pending, seq.Fed, WantLogits: true);
            _logitOwner[nLogits++] = seq;
        }
        foreach (var seq in _active)
        {
            if (!seq.IsPrefilling || budget == 0) continue;
            int take = Math.Min(budget, seq.Prompt.Length - seq.Fed);
            for (int i = 0; i < take; i++)
            {
                int position = seq.Fed + i;
                bool last = position == seq.Prompt.Length - 1;
                _rows[n++] = new ForwardRow(seq.Slot, seq.Prompt[position], position, last);
                if (last) _logitOwner[nLogits++] = seq;
            }
            budget -= take;
        }

        _model.Forward(_rows.AsSpan(0, n), _cache, _logits);

        foreach (var seq in _active) seq.Fed = _cache.Length(seq.Slot);

        int vocab = _model.VocabSize;
        for (int j = 0; j < nLogits; j++)
        {
            var seq = _logitOwner[j]!;
            _logitOwner[j] = null;
            int token = seq.Sampler.Sample(_logits.AsSpan(j * vocab, vocab));
            if (seq.StopTokens.Contains(token)) { seq.Finish(FinishReason.Stop); continue; }
            seq.Emit(token);
            seq.Generated++;
            seq.Pending = token;
            if (seq.Generated >= seq.MaxNewTokens) seq.Finish(FinishReason.Length);
            else if (seq.Prompt.Length + seq.Generated >= _cache.MaxT) seq.Finish(FinishReason.ContextFull);
        }
        RetireFinished();
    }

    /// <summary>Ends every sequence (active or waiting) with an error, e.g. when a forward pass threw.</summary>
    public void FailAll(Exception error)
    {
        foreach (var seq in _active) { seq.Fail(error); _cache.Free(seq.Slot); }
        _active.Clear();
        while (_waiting.TryDequeue(out var seq)) seq.Fail(error);
    }

    /// <summary>Ends every sequence with Cancelled (shutdown).</summary>
    public void CancelAll()
    {
        foreach (var seq in _active) { seq.Finish(FinishReason.Cancelled); _cache.Free(seq.Slot); }
        _active.Clear();
        while (_waiting.TryDequeue(out var seq)) seq.Finish(FinishReason.Cancelled);
    }

    void RetireCancelled()
    {
        foreach (var seq in _active)
            if (seq.CancelRequested) seq.Finish(FinishReason.Cancelled);
        RetireFinished();
    }

    void RetireFinished()
    {
        for (int i = _active.Count - 1; i >= 0; i--)
        {
            if (!_active[i].IsFinished) continue;
            _cache.Free(_active[i].Slot);
            _active.RemoveAt(i);
        }
    }

    void Admit()
    {
        while (_waiting.Count > 0 && _cache.FreeSlots > 0)
        {
            var seq = _waiting.Dequeue();
            if (seq.CancelRequested) { seq.Finish(FinishReason.Cancelled); continue; }
            if (seq.MaxNewTokens == 0) { seq.Finish(FinishReason.Length); continue; }
            // A prompt that fills the whole window leaves no position for an answer.
            if (seq.Prompt.Length >= _cache.MaxT) { seq.Finish(FinishReason.ContextFull); continue; }
            seq.Slot = _cache.Allocate();
            _active.Add(seq);
        }
        // Waiting requests cancelled while every slot is busy still end promptly.
        bool anyCancelled = false;
        foreach (var seq in _waiting) anyCancelled |= seq.CancelRequested;
        if (anyCancelled)
        {
            int count = _waiting.Count;
            for (int i = 0; i < count; i++)
            {
                var seq = _waiting.Dequeue();
                if (seq.CancelRequested) seq.Finish(FinishReason.Cancelled);
                else _waiting.Enqueue(seq);
            }
        }
    }
}
