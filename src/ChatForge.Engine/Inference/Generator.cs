using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace ChatForge.Engine.Inference;

public sealed record GeneratorOptions
{
    /// <summary>Sequences decoded together (KV-cache slots); further requests wait in a queue.</summary>
    public int MaxConcurrent { get; init; } = 8;
    /// <summary>Prompt tokens prefilled per step (over all sequences), so a long prompt does not stall running answers.</summary>
    public int PrefillChunk { get; init; } = 256;
    /// <summary>Positions per KV-cache slot; 0 means the model's context length.</summary>
    public int MaxT { get; init; }
    /// <summary>How the KV cache holds keys and values; null means the model's default (<see cref="InferenceModel.CreateCache"/>).</summary>
    public KvFormat? KvCacheFormat { get; init; }
}

/// <summary>The result of one sequence of <see cref="Generator.GenerateBatch"/>: generated ids (stop token excluded) and why it ended.</summary>
public sealed record GeneratedSequence(IReadOnlyList<int> Tokens, FinishReason Finish);

/// <summary>
/// Serves many concurrent requests from one model with continuous batching: a background decode loop owns
/// the <see cref="InferenceModel"/> and its <see cref="KvCache"/>; requests queue for a slot, are prefilled
/// in chunks, then decoded together with every other active request, one forward pass per step. Tokens
/// stream to each caller through its own channel.
/// </summary>
public sealed class Generator : ITokenGenerator, IDisposable
{
    readonly InferenceModel _model;
    readonly BatchScheduler _scheduler;
    readonly ConcurrentQueue<DecodeSequence> _incoming = new();
    readonly ManualResetEventSlim _wake = new(false);
    readonly Thread _loop;
    volatile bool _disposed;

    public int VocabSize => _model.VocabSize;
    public int ContextLength { get; }
    public GeneratorOptions Options { get; }

    public Generator(InferenceModel model, GeneratorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Options = options ?? new GeneratorOptions();
        if (Options.MaxConcurrent <= 0) throw new ArgumentException($"Generator: MaxConcurrent must be positive, got {Options.MaxConcurrent}.", nameof(options));
        _model = model;
        var cache = model.CreateCache(Options.MaxConcurrent, Options.MaxT, Options.KvCacheFormat);
        ContextLength = cache.MaxT;
        _scheduler = new BatchScheduler(model, cache, Options.PrefillChunk);
        _loop = new Thread(RunLoop) { IsBackground = true, Name = "ChatForge decode loop" };
        _loop.Start();
    }

    /// <summary>
    /// Queues the request and streams its tokens. Throws ArgumentException at once for an invalid request
    /// (empty prompt, prompt longer than the context, unknown token id, bad sampling options).
    /// </summary>
    public IAsyncEnumerable<GenerationStep> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Validate(request, _model.VocabSize, ContextLength);
        var channel = Channel.CreateUnbounded<GenerationStep>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var sequence = new DecodeSequence(request, new Sampler(request.Sampling, _model.VocabSize),
            step => { channel.Writer.TryWrite(step); if (step.Finish is not null) channel.Writer.TryComplete(); },
            error => channel.Writer.TryComplete(error));
        var registration = cancellationToken.Register(() => { sequence.RequestCancel(); _wake.Set(); });
        Submit(sequence);
        return Stream(channel.Reader, sequence, registration);
    }

    async IAsyncEnumerable<GenerationStep> Stream(ChannelReader<GenerationStep> reader, DecodeSequence sequence, CancellationTokenRegistration registration,
        [EnumeratorCancellation] CancellationToken enumeratorToken = default)
    {
        // A token passed to the enumerator (WithCancellation) cancels the request the same way.
        using var enumeratorRegistration = enumeratorToken.Register(() => { sequence.RequestCancel(); _wake.Set(); });
        try
        {
            // Not reading with the token: cancellation ends the stream through its final Cancelled step.
            await foreach (var step in reader.ReadAllAsync()) yield return step;
        }
        finally
        {
            registration.Dispose();
            // A consumer that stops early gives its slot back.
            if (!sequence.IsFinished) { sequence.RequestCancel(); _wake.Set(); }
        }
    }

    /// <summary>
    /// Generates for several prompts at once and blocks until all have finished (PPO rollouts): they are
    /// decoded together with whatever else the loop is running. With a fixed seed, prompt i samples with
    /// seed + i, so repeated prompts still get different samples and the whole batch stays repeatable.
    /// </summary>
    public IReadOnlyList<GeneratedSequence> GenerateBatch(IReadOnlyList<IReadOnlyList<int>> prompts, int maxNewTokens,
        SamplingOptions sampling, IReadOnlyCollection<int>? stopTokens = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var requests = BatchRequests(prompts, maxNewTokens, sampling, stopTokens);
        foreach (var r in requests) Validate(r, _model.VocabSize, ContextLength);

        var results = new BatchResult[requests.Length];
        var sequences = new DecodeSequence[requests.Length];
        using var done = new CountdownEvent(requests.Length);
        for (int i = 0; i < requests.Length; i++)
        {
            var result = results[i] = new BatchResult();
            sequences[i] = new DecodeSequence(requests[i], new Sampler(requests[i].Sampling, _model.VocabSize),
                step => { if (step.Finish is { } reason) { result.Finish = reason; done.Signal(); } else result.Tokens.Add(step.TokenId); },
                error => { result.Error = error; done.Signal(); });
        }
        using (cancellationToken.Register(() => { foreach (var s in sequences) s.RequestCancel(); _wake.Set(); }))
        {
            foreach (var s in sequences) Submit(s);
            done.Wait();
        }
        return Collect(results);
    }

    /// <summary>The same as the instance method, run synchronously on the calling thread with its own cache (no background loop).</summary>
    public static IReadOnlyList<GeneratedSequence> GenerateBatch(InferenceModel model, IReadOnlyList<IReadOnlyList<int>> prompts, int maxNewTokens,
        SamplingOptions sampling, IReadOnlyCollection<int>? stopTokens = null, int prefillChunk = 256)
    {
        ArgumentNullException.ThrowIfNull(model);
        var requests = BatchRequests(prompts, maxNewTokens, sampling, stopTokens);
        foreach (var r in requests) Validate(r, model.VocabSize, model.ContextLength);
        if (requests.Length == 0) return [];
        var scheduler = new BatchScheduler(model, model.CreateCache(requests.Length), prefillChunk);
        var results = new BatchResult[requests.Length];
        for (int i = 0; i < requests.Length; i++)
        {
            var result = results[i] = new BatchResult();
            scheduler.Add(new DecodeSequence(requests[i], new Sampler(requests[i].Sampling, model.VocabSize),
                step => { if (step.Finish is { } reason) result.Finish = reason; else result.Tokens.Add(step.TokenId); },
                error => result.Error = error));
        }
        while (scheduler.HasWork) scheduler.Step();
        return Collect(results);
    }

    sealed class BatchResult
    {
        public readonly List<int> Tokens = new();
        public FinishReason Finish;
        public Exception? Error;
    }

    static GenerationRequest[] BatchRequests(IReadOnlyList<IReadOnlyList<int>> prompts, int maxNewTokens, SamplingOptions sampling, IReadOnlyCollection<int>? stopTokens)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(sampling);
        var requests = new GenerationRequest[prompts.Count];
        for (int i = 0; i < requests.Length; i++)
            requests[i] = new GenerationRequest
            {
                PromptTokens = prompts[i] ?? throw new ArgumentException($"GenerateBatch: prompt {i} is null.", nameof(prompts)),
                MaxNewTokens = maxNewTokens,
                Sampling = sampling.Seed is { } seed ? sampling with { Seed = seed + (ulong)i } : sampling,
                StopTokens = stopTokens ?? Array.Empty<int>(),
            };
        return requests;
    }

    static IReadOnlyList<GeneratedSequence> Collect(BatchResult[] results)
    {
        foreach (var r in results)
            if (r.Error is not null) throw new InvalidOperationException($"GenerateBatch failed: {r.Error.Message}", r.Error);
        return results.Select(r => new GeneratedSequence(r.Tokens, r.Finish)).ToArray();
    }

    /// <summary>Throws ArgumentException naming the offending field of the request.</summary>
    public static void Validate(GenerationRequest request, int vocabSize, int contextLength)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.PromptTokens is null || request.PromptTokens.Count == 0)
            throw new ArgumentException("Generation request: the prompt is empty; at least one token is needed to condition on.", nameof(request));
        if (request.PromptTokens.Count > contextLength)
            throw new ArgumentException($"Generation request: the prompt has {request.PromptTokens.Count} tokens, longer than the context length {contextLength}.", nameof(request));
        int i = 0;
        foreach (int token in request.PromptTokens)
        {
            if ((uint)token >= (uint)vocabSize)
                throw new ArgumentException($"Generation request: prompt token {i} is {token}, outside the vocabulary [0, {vocabSize}).", nameof(request));
            i++;
        }
        if (request.MaxNewTokens < 0)
            throw new ArgumentException($"Generation request: max_new_tokens must be ≥ 0, got {request.MaxNewTokens}.", nameof(request));
        if (request.StopTokens is null) throw new ArgumentException("Generation request: stop tokens must not be null.", nameof(request));
        Sampler.Validate(request.Sampling);
    }

    void Submit(DecodeSequence sequence)
    {
        _incoming.Enqueue(sequence);
        _wake.Set();
        // Dispose may have drained the queue just before this enqueue: end the request rather than leave it hanging.
        if (_disposed && _incoming.TryDequeue(out var late)) late.Finish(FinishReason.Cancelled);
    }

    void RunLoop()
    {
        while (!_disposed)
        {
            _wake.Reset();
            while (_incoming.TryDequeue(out var seq)) _scheduler.Add(seq);
            if (!_scheduler.HasWork) { _wake.Wait(); continue; }
            try
            {
                _scheduler.Step();
            }
            catch (Exception e)
            {
                _scheduler.FailAll(e);
            }
        }
        while (_incoming.TryDequeue(out var seq)) _scheduler.Add(seq);
        _scheduler.CancelAll();
    }

    /// <summary>Stops the decode loop; running and queued requests end with Cancelled.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _wake.Set();
        _loop.Join();
        while (_incoming.TryDequeue(out var seq)) seq.Finish(FinishReason.Cancelled);
    }
}
