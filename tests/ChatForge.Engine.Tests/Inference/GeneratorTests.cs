using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Tests.Inference;

public class GeneratorTests
{
    static readonly InferenceModel Model = new(TinyModels.RandomParameters(TinyModels.Gpt2, seed: 21), WeightFormat.F32);

    /// <summary>Long context so a request runs for thousands of steps: long enough to cancel it mid-stream.</summary>
    static readonly InferenceModel LongModel = new(TinyModels.RandomParameters(ModelConfig.Gpt2Style(64, 64, 2, 4, 4096), seed: 22), WeightFormat.F32);

    static GenerationRequest Greedy(int[] prompt, int maxNewTokens, params int[] stop) => new()
    {
        PromptTokens = prompt, MaxNewTokens = maxNewTokens, Sampling = SamplingOptions.Greedy, StopTokens = stop,
    };

    /// <summary>Reads a stream to its end, checking the contract: tokens first, then exactly one final step with id -1.</summary>
    static async Task<(List<int> Tokens, FinishReason Finish)> Collect(IAsyncEnumerable<GenerationStep> stream)
    {
        var tokens = new List<int>();
        FinishReason? finish = null;
        await foreach (var step in stream)
        {
            Assert.Null(finish); // nothing after the final step
            if (step.Finish is { } reason) { Assert.Equal(-1, step.TokenId); finish = reason; }
            else { Assert.InRange(step.TokenId, 0, Model.VocabSize - 1); tokens.Add(step.TokenId); }
        }
        Assert.NotNull(finish);
        return (tokens, finish.Value);
    }

    [Fact]
    public async Task Max_new_tokens_ends_with_Length_and_matches_the_greedy_continuation()
    {
        using var generator = new Generator(Model);
        var (tokens, finish) = await Collect(generator.GenerateAsync(Greedy([1, 2, 3], 7)));
        Assert.Equal(FinishReason.Length, finish);
        Assert.Equal(GreedyByHand([1, 2, 3], 7), tokens);
    }

    /// <summary>The greedy continuation computed directly with the model, one token per forward.</summary>
    static List<int> GreedyByHand(int[] prompt, int count)
    {
        var cache = Model.CreateCache(1);
        int slot = cache.Allocate();
        var logits = new float[Model.VocabSize];
        Model.Forward(prompt.Select((t, i) => new ForwardRow(slot, t, i, i == prompt.Length - 1)).ToArray(), cache, logits);
        var result = new List<int>();
        for (int i = 0; i < count; i++)
        {
            result.Add(Sampler.ArgMax(logits));
            Model.Forward([new ForwardRow(slot, result[^1], prompt.Length + i, true)], cache, logits);
        }
        return result;
    }

    [Fact]
    public async Task A_stop_token_ends_with_Stop_and_is_not_yielded()
    {
        using var generator = new Generator(Model);
        var free = GreedyByHand([5, 6], 12);
        int k = Enumerable.Range(1, free.Count - 1).First(i => !free.Take(i).Contains(free[i]));
        var (tokens, finish) = await Collect(generator.GenerateAsync(Greedy([5, 6], 12, free[k], 63 - free[k] % 2)));
        Assert.Equal(FinishReason.Stop, finish);
        Assert.Equal(free.Take(k), tokens.Take(k));
        Assert.DoesNotContain(free[k], tokens);
    }

    [Fact]
    public async Task Context_full_ends_the_answer_when_the_window_is_used_up()
    {
        using var generator = new Generator(Model, new GeneratorOptions { MaxT = 16 });
        Assert.Equal(16, generator.ContextLength);
        var (tokens, finish) = await Collect(generator.GenerateAsync(Greedy(Enumerable.Range(0, 10).ToArray(), 100)));
        Assert.Equal(FinishReason.ContextFull, finish);
        Assert.Equal(6, tokens.Count); // prompt + answer fill exactly the 16 positions

        (tokens, finish) = await Collect(generator.GenerateAsync(Greedy(Enumerable.Range(0, 16).ToArray(), 100)));
        Assert.Equal(FinishReason.ContextFull, finish);
        Assert.Empty(tokens);

        var e = Assert.Throws<ArgumentException>(() => generator.GenerateAsync(Greedy(Enumerable.Range(0, 17).ToArray(), 5)));
        Assert.Contains("17 tokens, longer than the context length 16", e.Message);
    }

    [Fact]
    public void Invalid_requests_are_rejected_before_anything_is_queued()
    {
        using var generator = new Generator(Model);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => generator.GenerateAsync(Greedy([], 5))).Message);
        Assert.Contains("token 1 is 64", Assert.Throws<ArgumentException>(() => generator.GenerateAsync(Greedy([1, 64], 5))).Message);
        Assert.Contains("max_new_tokens", Assert.Throws<ArgumentException>(() => generator.GenerateAsync(Greedy([1], -1))).Message);
        Assert.Contains("top_p", Assert.Throws<ArgumentException>(() => generator.GenerateAsync(
            new GenerationRequest { PromptTokens = [1], Sampling = new SamplingOptions { TopP = 0 } })).Message);
    }

    [Fact]
    public async Task Cancellation_ends_with_Cancelled_frees_the_slot_and_a_later_request_still_works()
    {
        using var generator = new Generator(LongModel, new GeneratorOptions { MaxConcurrent = 1 });
        using var cts = new CancellationTokenSource();
        var tokens = new List<int>();
        FinishReason? finish = null;
        // A second request waits for the only slot while the first runs.
        var waiting = Collect(generator.GenerateAsync(Greedy([3, 4], 5)));
        await foreach (var step in generator.GenerateAsync(Greedy([1, 2], 4000), cts.Token))
        {
            if (step.Finish is { } reason) finish = reason;
            else { tokens.Add(step.TokenId); if (tokens.Count == 1) cts.Cancel(); }
        }
        Assert.Equal(FinishReason.Cancelled, finish);
        Assert.True(tokens.Count < 4000);
        var (after, afterFinish) = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(FinishReason.Length, afterFinish);
        Assert.Equal(5, after.Count);
    }

    [Fact]
    public async Task A_consumer_that_stops_reading_early_gives_its_slot_back()
    {
        using var generator = new Generator(LongModel, new GeneratorOptions { MaxConcurrent = 1 });
        await foreach (var step in generator.GenerateAsync(Greedy([1, 2], 4000))) break;
        var (tokens, finish) = await Collect(generator.GenerateAsync(Greedy([7], 3))).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(FinishReason.Length, finish);
        Assert.Equal(3, tokens.Count);
    }

    [Fact]
    public async Task Concurrent_requests_each_get_exactly_their_own_results()
    {
        var rng = new Random(30);
        var requests = Enumerable.Range(0, 7)
            .Select(i => Greedy(Enumerable.Range(0, 1 + rng.Next(12)).Select(_ => rng.Next(64)).ToArray(), 3 + rng.Next(15)))
            .ToArray();
        using var generator = new Generator(Model, new GeneratorOptions { MaxConcurrent = 3, PrefillChunk = 8 });
        var sequential = new List<(List<int>, FinishReason)>();
        foreach (var r in requests) sequential.Add(await Collect(generator.GenerateAsync(r)));
        var concurrent = await Task.WhenAll(requests.Select(r => Task.Run(() => Collect(generator.GenerateAsync(r)))));
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(sequential[i].Item2, concurrent[i].Finish);
            Assert.Equal(sequential[i].Item1, concurrent[i].Tokens);
        }
    }

    [Fact]
    public async Task Seeded_sampling_repeats_under_the_same_seed()
    {
        using var generator = new Generator(Model);
        GenerationRequest Sampled(ulong seed) => new()
        {
            PromptTokens = [9, 8, 7], MaxNewTokens = 20, Sampling = new SamplingOptions { Temperature = 1.2f, TopP = 0.9f, Seed = seed },
        };
        var a = await Collect(generator.GenerateAsync(Sampled(5)));
        var b = await Collect(generator.GenerateAsync(Sampled(5)));
        var c = await Collect(generator.GenerateAsync(Sampled(6)));
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.NotEqual(a.Tokens, c.Tokens);
    }

    [Fact]
    public async Task GenerateBatch_decodes_prompts_of_different_lengths_together_like_each_alone()
    {
        int[][] prompts = [[1], [2, 3, 4, 5, 6, 7], [8, 9, 10]];
        var expected = prompts.Select(p => GreedyByHand(p, 9)).ToArray();

        var direct = Generator.GenerateBatch(Model, prompts, 9, SamplingOptions.Greedy, prefillChunk: 4);
        using var generator = new Generator(Model, new GeneratorOptions { MaxConcurrent = 2 });
        var viaLoop = generator.GenerateBatch(prompts, 9, SamplingOptions.Greedy);
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i], direct[i].Tokens);
            Assert.Equal(FinishReason.Length, direct[i].Finish);
            Assert.Equal(expected[i], viaLoop[i].Tokens);
        }

        // With a seed, the same prompt repeated gets different samples (seed + i), and the batch repeats.
        var sampling = new SamplingOptions { Temperature = 1f, Seed = 77 };
        int[][] same = [[4, 4], [4, 4]];
        var first = Generator.GenerateBatch(Model, same, 12, sampling);
        var again = Generator.GenerateBatch(Model, same, 12, sampling);
        Assert.NotEqual(first[0].Tokens, first[1].Tokens);
        Assert.Equal(first[1].Tokens, again[1].Tokens);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Disposing_the_generator_cancels_running_requests()
    {
        var generator = new Generator(LongModel, new GeneratorOptions { MaxConcurrent = 1 });
        var running = Collect(generator.GenerateAsync(Greedy([1], 4000)));
        var queued = Collect(generator.GenerateAsync(Greedy([2], 4000)));
        generator.Dispose();
        Assert.Equal(FinishReason.Cancelled, (await running.WaitAsync(TimeSpan.FromSeconds(30))).Finish);
        Assert.Equal(FinishReason.Cancelled, (await queued.WaitAsync(TimeSpan.FromSeconds(30))).Finish);
        Assert.Throws<ObjectDisposedException>(() => generator.GenerateAsync(Greedy([1], 1)));
    }
}
