using ChatForge.Engine.Training;

namespace ChatForge.Engine.Inference;

/// <summary>
/// Picks the next token from a row of logits: greedy (temperature 0), or temperature sampling with an
/// optional top-k cut followed by an optional top-p (nucleus) cut, in the order Hugging Face applies them.
/// One sampler per request: it owns the request's seeded RNG (same seed, same logits → same tokens) and
/// scratch sized to the vocabulary, so sampling a token allocates nothing.
/// </summary>
public sealed class Sampler
{
    readonly float _temperature;
    readonly int _topK;
    readonly float _topP;
    readonly int _vocab;
    readonly float[] _probs;
    readonly int[] _candidates;
    SplitMix64 _rng;

    public SamplingOptions Options { get; }
    public ulong Seed { get; }
    public bool IsGreedy => _temperature == 0f || _topK == 1;

    public Sampler(SamplingOptions options, int vocabSize)
    {
        Validate(options);
        if (vocabSize <= 0) throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, "Vocabulary size must be positive.");
        Options = options;
        _temperature = options.Temperature;
        _topK = options.TopK >= vocabSize ? 0 : options.TopK;
        _topP = options.TopP;
        _vocab = vocabSize;
        Seed = options.Seed ?? (ulong)Random.Shared.NextInt64();
        _rng = new SplitMix64(Seed);
        if (!IsGreedy)
        {
            _probs = new float[vocabSize];
            _candidates = new int[vocabSize];
        }
        else
        {
            _probs = [];
            _candidates = [];
        }
    }

    /// <summary>Throws ArgumentException naming the first invalid sampling field.</summary>
    public static void Validate(SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!(options.Temperature >= 0f) || float.IsInfinity(options.Temperature))
            throw new ArgumentException($"Sampling: temperature must be a finite number ≥ 0, got {options.Temperature}.", nameof(options));
        if (options.TopK < 0)
            throw new ArgumentException($"Sampling: top_k must be ≥ 0 (0 = no cut), got {options.TopK}.", nameof(options));
        if (!(options.TopP > 0f && options.TopP <= 1f))
            throw new ArgumentException($"Sampling: top_p must be in (0, 1], got {options.TopP}.", nameof(options));
    }

    /// <summary>Returns the sampled token id for one row of logits [vocab].</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        if (logits.Length != _vocab) throw new ArgumentException($"Sampler: logits row has {logits.Length} values, vocabulary is {_vocab}.", nameof(logits));
        if (IsGreedy) return ArgMax(logits);

        int n = _topK > 0 ? SelectTopK(logits, _topK, _candidates) : FillAll(_candidates, _vocab);
        var candidates = _candidates.AsSpan(0, n);
        var probs = _probs.AsSpan(0, n);

        // Softmax at temperature T over the candidates (unnormalised: the draw scales by the total).
        float max = float.NegativeInfinity;
        foreach (int id in candidates) max = MathF.Max(max, logits[id]);
        float invT = 1f / _temperature;
        double total = 0;
        for (int j = 0; j < n; j++)
        {
            float p = MathF.Exp((logits[candidates[j]] - max) * invT);
            probs[j] = p;
            total += p;
        }
        if (_topP < 1f) (n, total) = Nucleus(candidates, probs, total);

        double u = _rng.NextDouble() * total;
        double cumulative = 0;
        for (int j = 0; j < n; j++)
        {
            cumulative += _probs[j];
            if (u < cumulative) return _candidates[j];
        }
        return _candidates[n - 1]; // u landed on the rounding slack at the top end
    }

    /// <summary>Index of the largest logit; the lowest index wins ties.</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        float bestValue = logits[0];
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > bestValue) { bestValue = logits[i]; best = i; }
        return best;
    }

    static int FillAll(int[] candidates, int vocab)
    {
        for (int i = 0; i < vocab; i++) candidates[i] = i;
        return vocab;
    }

    /// <summary>
    /// Writes the ids of the k largest logits into <paramref name="candidates"/> (ties broken by lower id).
    /// A bounded min-heap keeps it O(V log k) without sorting the vocabulary.
    /// </summary>
    static int SelectTopK(ReadOnlySpan<float> logits, int k, int[] candidates)
    {
        var heap = candidates.AsSpan(0, k); // heap[0] is the weakest kept id
        for (int i = 0; i < k; i++) { heap[i] = i; SiftUp(heap, i, logits); }
        for (int i = k; i < logits.Length; i++)
        {
            if (!Stronger(i, heap[0], logits)) continue;
            heap[0] = i;
            SiftDown(heap, 0, logits);
        }
        return k;
    }

    static bool Stronger(int a, int b, ReadOnlySpan<float> logits) => logits[a] > logits[b] || (logits[a] == logits[b] && a < b);

    static void SiftUp(Span<int> heap, int i, ReadOnlySpan<float> logits)
    {
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (!Stronger(heap[parent], heap[i], logits)) break;
            (heap[parent], heap[i]) = (heap[i], heap[parent]);
            i = parent;
        }
    }

    static void SiftDown(Span<int> heap, int i, ReadOnlySpan<float> logits)
    {
        while (true)
        {
            int left = 2 * i + 1, weakest = i;
            if (left < heap.Length && Stronger(heap[weakest], heap[left], logits)) weakest = left;
            if (left + 1 < heap.Length && Stronger(heap[weakest], heap[left + 1], logits)) weakest = left + 1;
            if (weakest == i) return;
            (heap[weakest], heap[i]) = (heap[i], heap[weakest]);
            i = weakest;
        }
    }

    /// <summary>
    /// Keeps the minimal set of most probable candidates whose mass reaches top_p. Only candidates above a
    /// threshold holding that mass can be in the nucleus, so the sort covers those few, not the vocabulary:
    /// the threshold halves from the top probability until the tokens above it hold enough mass.
    /// </summary>
    (int Count, double Mass) Nucleus(Span<int> candidates, Span<float> probs, double total)
    {
        double target = _topP * total;
        float max = 0f;
        foreach (float p in probs) max = MathF.Max(max, p);
        float threshold = max;
        while (true)
        {
            double mass = 0;
            foreach (float p in probs) if (p >= threshold) mass += p;
            if (mass >= target || threshold < 1e-30f) break;
            threshold *= 0.5f;
        }

        int kept = 0;
        for (int j = 0; j < probs.Length; j++)
        {
            if (probs[j] < threshold) continue;
            probs[kept] = probs[j];
            candidates[kept] = candidates[j];
            kept++;
        }
        // Most probable first, so the cut below is the minimal nucleus (the sort is deterministic for equal input).
        probs[..kept].Sort(candidates[..kept], new Descending());

        double cumulative = 0;
        for (int j = 0; j < kept; j++)
        {
            cumulative += probs[j];
            if (cumulative >= target) return (j + 1, cumulative);
        }
        return (kept, cumulative);
    }

    readonly struct Descending : IComparer<float>
    {
        public int Compare(float a, float b) => b.CompareTo(a);
    }
}
