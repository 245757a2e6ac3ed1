using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Tests.Inference;

public class InferenceModelTests
{
    public static TheoryData<string> Configs => new() { "gpt2", "llama" };

    static ModelConfig ConfigFor(string name) => name == "gpt2" ? TinyModels.Gpt2 : TinyModels.Llama;

    static int[] RandomTokens(int count, int vocab, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }

    /// <summary>Logits of every row of one sequence prefilled in one forward (a fresh cache).</summary>
    static float[] FullForward(InferenceModel model, IReadOnlyList<int> tokens)
    {
        var cache = model.CreateCache(1);
        int slot = cache.Allocate();
        var rows = tokens.Select((t, i) => new ForwardRow(slot, t, i, WantLogits: true)).ToArray();
        var logits = new float[tokens.Count * model.VocabSize];
        model.Forward(rows, cache, logits);
        return logits;
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Prefill_matches_a_float64_reference_forward(string config)
    {
        var parameters = TinyModels.RandomParameters(ConfigFor(config), seed: 1);
        var model = new InferenceModel(parameters, WeightFormat.F32);
        var tokens = RandomTokens(20, model.VocabSize, seed: 2);
        var logits = FullForward(model, tokens);
        var reference = TinyModels.ReferenceLogits(parameters, tokens);
        int v = model.VocabSize;
        for (int t = 0; t < tokens.Length; t++)
            Assert.True(TinyModels.MaxAbsDiff(logits.AsSpan(t * v, v), reference[t]) < 1e-4, $"position {t}");
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Decode_with_kv_cache_matches_full_recomputation_at_every_step(string config)
    {
        var model = new InferenceModel(TinyModels.RandomParameters(ConfigFor(config), seed: 3), WeightFormat.F32);
        int v = model.VocabSize;
        var sequence = RandomTokens(6, v, seed: 4).ToList();
        var cache = model.CreateCache(2);
        cache.Allocate(); // slot 0 stays empty: the sequence lives in slot 1
        int slot = cache.Allocate();
        var logits = new float[v];
        model.Forward(sequence.Select((t, i) => new ForwardRow(slot, t, i, i == sequence.Count - 1)).ToArray(), cache, logits);
        for (int step = 0; step < 20; step++)
        {
            var full = FullForward(model, sequence);
            Assert.True(TinyModels.MaxAbsDiff(logits, full.AsSpan((sequence.Count - 1) * v, v)) < 2e-5, $"step {step}");
            int next = Sampler.ArgMax(logits);
            sequence.Add(next);
            model.Forward([new ForwardRow(slot, next, sequence.Count - 1, true)], cache, logits);
            Assert.Equal(sequence.Count, cache.Length(slot));
        }
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Chunked_prefill_equals_prefill_in_one_pass(string config)
    {
        var model = new InferenceModel(TinyModels.RandomParameters(ConfigFor(config), seed: 5), WeightFormat.F32);
        var tokens = RandomTokens(17, model.VocabSize, seed: 6);
        var cache = model.CreateCache(1);
        int slot = cache.Allocate();
        var logits = new float[model.VocabSize];
        for (int start = 0; start < tokens.Length; start += 5)
        {
            int end = Math.Min(tokens.Length, start + 5);
            model.Forward(Enumerable.Range(start, end - start).Select(i => new ForwardRow(slot, tokens[i], i, i == tokens.Length - 1)).ToArray(), cache, logits);
        }
        var full = FullForward(model, tokens);
        Assert.True(TinyModels.MaxAbsDiff(logits, full.AsSpan((tokens.Length - 1) * model.VocabSize)) < 2e-5);
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Batched_decode_of_three_sequences_equals_each_decoded_alone(string config)
    {
        var model = new InferenceModel(TinyModels.RandomParameters(ConfigFor(config), seed: 7), WeightFormat.F32);
        int v = model.VocabSize;
        int[][] prompts = [RandomTokens(3, v, 8), RandomTokens(9, v, 9), RandomTokens(14, v, 10)];
        const int steps = 12;

        // Alone: each sequence in its own cache, prefill then greedy decode.
        var alone = prompts.Select(p => DecodeAlone(model, p, steps)).ToArray();

        // Together: the first prompt is prefilled alone, the other two join in the next step while the first
        // already decodes (a mixed prefill + decode batch), then all three decode in one forward per step.
        var cache = model.CreateCache(4);
        int[] slots = [cache.Allocate(), cache.Allocate(), cache.Allocate()];
        var seqs = prompts.Select(p => p.ToList()).ToArray();
        var together = prompts.Select(_ => new List<float[]>()).ToArray();
        var logits = new float[3 * v];
        model.Forward(Rows(slots[0], seqs[0], 0), cache, logits);
        together[0].Add(logits[..v]);
        seqs[0].Add(Sampler.ArgMax(logits.AsSpan(0, v)));

        var rows = new List<ForwardRow> { new(slots[0], seqs[0][^1], seqs[0].Count - 1, true) };
        rows.AddRange(Rows(slots[1], seqs[1], 0));
        rows.AddRange(Rows(slots[2], seqs[2], 0));
        model.Forward(rows.ToArray(), cache, logits);
        for (int s = 0; s < 3; s++)
        {
            together[s].Add(logits[(s * v)..((s + 1) * v)]);
            seqs[s].Add(Sampler.ArgMax(logits.AsSpan(s * v, v)));
        }
        while (together.Any(t => t.Count < steps))
        {
            var active = Enumerable.Range(0, 3).Where(s => together[s].Count < steps).ToArray();
            model.Forward(active.Select(s => new ForwardRow(slots[s], seqs[s][^1], seqs[s].Count - 1, true)).ToArray(), cache, logits);
            for (int j = 0; j < active.Length; j++)
            {
                int s = active[j];
                together[s].Add(logits[(j * v)..((j + 1) * v)]);
                seqs[s].Add(Sampler.ArgMax(logits.AsSpan(j * v, v)));
            }
        }

        for (int s = 0; s < 3; s++)
            for (int step = 0; step < steps; step++)
                Assert.True(TinyModels.MaxAbsDiff(together[s][step], alone[s][step]) < 1e-5, $"sequence {s} step {step}");
    }

    static ForwardRow[] Rows(int slot, List<int> tokens, int from) =>
        Enumerable.Range(from, tokens.Count - from).Select(i => new ForwardRow(slot, tokens[i], i, i == tokens.Count - 1)).ToArray();

    static List<float[]> DecodeAlone(InferenceModel model, int[] prompt, int steps)
    {
        int v = model.VocabSize;
        var cache = model.CreateCache(1);
        int slot = cache.Allocate();
        var tokens = prompt.ToList();
        var logits = new float[v];
        var result = new List<float[]>();
        model.Forward(Rows(slot, tokens, 0), cache, logits);
        for (int step = 0; step < steps; step++)
        {
            result.Add(logits.ToArray());
            tokens.Add(Sampler.ArgMax(logits));
            if (step < steps - 1) model.Forward([new ForwardRow(slot, tokens[^1], tokens.Count - 1, true)], cache, logits);
        }
        return result;
    }

    /// <summary>
    /// bf16 keeps 8 significant bits (relative error ≤ 2^-9 per weight); int8 with a per-row absmax scale errs by
    /// up to 1/254 of the row's largest weight. On logits spread over a few units that moves them by at most a
    /// few hundredths (bf16) or about a tenth (int8).
    /// </summary>
    [Theory]
    [InlineData("gpt2", WeightFormat.Bf16, 0.05)]
    [InlineData("llama", WeightFormat.Bf16, 0.05)]
    [InlineData("gpt2", WeightFormat.Int8, 0.15)]
    [InlineData("llama", WeightFormat.Int8, 0.15)]
    public void Reduced_precision_weights_stay_close_to_fp32_and_pick_the_same_greedy_tokens(string config, WeightFormat format, double tolerance)
    {
        var parameters = TinyModels.RandomParameters(ConfigFor(config), seed: 11);
        var f32 = new InferenceModel(parameters, WeightFormat.F32);
        var bf16 = new InferenceModel(parameters, format);
        if (format == WeightFormat.Bf16) Assert.Equal(f32.MatmulWeightBytes, 2 * bf16.MatmulWeightBytes);
        else Assert.True(bf16.MatmulWeightBytes < f32.MatmulWeightBytes / 3);
        int v = f32.VocabSize;
        // Both models read the same tokens (fp32's greedy continuation), so every step compares like with like.
        var tokens = RandomTokens(8, v, seed: 12).ToList();
        var (cacheA, cacheB) = (f32.CreateCache(1), bf16.CreateCache(1));
        int slot = cacheA.Allocate(); cacheB.Allocate();
        var (a, b) = (new float[v], new float[v]);
        var rows = Rows(slot, tokens, 0);
        double maxDiff = 0;
        int sameChoice = 0, steps = 24;
        for (int step = 0; step < steps; step++)
        {
            f32.Forward(rows, cacheA, a);
            bf16.Forward(rows, cacheB, b);
            maxDiff = Math.Max(maxDiff, TinyModels.MaxAbsDiff(a, b));
            int greedy = Sampler.ArgMax(a);
            if (Sampler.ArgMax(b) == greedy) sameChoice++;
            else
            {
                // A different choice is only acceptable on a near-tie smaller than the bf16 error.
                var sorted = a.OrderDescending().ToArray();
                Assert.True(sorted[0] - sorted[1] < 2 * tolerance, $"step {step}: {format} picked {Sampler.ArgMax(b)}, fp32 {greedy} with margin {sorted[0] - sorted[1]}");
            }
            tokens.Add(greedy);
            rows = [new ForwardRow(slot, greedy, tokens.Count - 1, true)];
        }
        Assert.True(maxDiff < tolerance, $"max |Δlogit| = {maxDiff}");
        Assert.True(maxDiff > 0, "reduced-precision weights should not be bit-identical to fp32");
        Assert.True(sameChoice >= steps - 2, $"same greedy token in {sameChoice} of {steps} steps");
    }

    [Fact]
    public void Bad_rows_are_rejected_with_a_message_naming_the_problem()
    {
        var model = new InferenceModel(TinyModels.RandomParameters(TinyModels.Gpt2, seed: 13), WeightFormat.F32);
        var cache = model.CreateCache(2);
        int slot = cache.Allocate();
        var logits = new float[2 * model.VocabSize];
        string Message(ForwardRow[] rows) => Assert.Throws<ArgumentException>(() => model.Forward(rows, cache, logits)).Message;

        Assert.Contains("no rows", Message([]));
        Assert.Contains("slot 1", Message([new ForwardRow(1, 0, 0, true)]));
        Assert.Contains("token 64", Message([new ForwardRow(slot, 64, 0, true)]));
        Assert.Contains("past its cached length 0", Message([new ForwardRow(slot, 1, 3, true)]));
        Assert.Contains("consecutive", Message([new ForwardRow(slot, 1, 0, false), new ForwardRow(slot, 1, 2, true)]));
        Assert.Contains("context full", Message([new ForwardRow(slot, 1, cache.MaxT, true)]));
        Assert.Contains("logits", Assert.Throws<ArgumentException>(() => model.Forward(
            [new ForwardRow(slot, 1, 0, true)], cache, new float[3])).Message);
        Assert.Equal(0, cache.Length(slot)); // nothing was written
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void A_bf16_kv_cache_stays_close_to_a_float_cache_and_halves_its_bytes(string config)
    {
        var model = new InferenceModel(TinyModels.RandomParameters(ConfigFor(config), seed: 17), WeightFormat.F32);
        var (exact, halved) = (model.CreateCache(1), model.CreateCache(1, format: KvFormat.Bf16));
        Assert.False(exact.IsBf16);
        Assert.True(halved.IsBf16);
        Assert.Equal(exact.Bytes, 2 * halved.Bytes);
        Assert.True(new InferenceModel(TinyModels.RandomParameters(ConfigFor(config), seed: 17), WeightFormat.Bf16).CreateCache(1).IsBf16, "bf16 weights default to a bf16 cache");
        Assert.InRange(MaxLogitDiff(model, exact, halved), 1e-7, 0.05);
        Assert.Throws<InvalidOperationException>(() => halved.Keys(0));
        Assert.Throws<InvalidOperationException>(() => exact.ValuesBf16(0));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void An_int8_kv_cache_stays_close_to_a_float_cache_at_about_a_quarter_of_its_bytes(string config)
    {
        var model = new InferenceModel(TinyModels.RandomParameters(ConfigFor(config), seed: 17), WeightFormat.F32);
        var (exact, quartered) = (model.CreateCache(1), model.CreateCache(1, format: KvFormat.Int8));
        Assert.Equal(KvFormat.Int8, quartered.Format);
        // One byte per value plus one float scale per position and kv head.
        Assert.Equal(exact.Bytes / 4 + 2L * exact.Layers * exact.MaxT * exact.KvHeads * sizeof(float), quartered.Bytes);
        Assert.InRange(MaxLogitDiff(model, exact, quartered), 1e-7, 0.1);
        Assert.Contains("int8", Assert.Throws<InvalidOperationException>(() => quartered.KeysBf16(0)).Message);
        Assert.Throws<InvalidOperationException>(() => exact.KeyScales(0));
    }

    /// <summary>
    /// A 30-token prompt in one prefill, then 12 greedy decode steps that attend over it through each cache (both caches
    /// get a fresh slot): the largest logit difference seen.
    /// </summary>
    static double MaxLogitDiff(InferenceModel model, KvCache exact, KvCache other)
    {
        int slot = exact.Allocate();
        Assert.Equal(slot, other.Allocate());
        int v = model.VocabSize;
        var tokens = RandomTokens(30, v, seed: 18).ToList();
        var (a, b) = (new float[v], new float[v]);
        model.Forward(Rows(slot, tokens, 0), exact, a);
        model.Forward(Rows(slot, tokens, 0), other, b);
        double maxDiff = TinyModels.MaxAbsDiff(a, b);
        for (int step = 0; step < 12; step++)
        {
            ForwardRow[] row = [new ForwardRow(slot, Sampler.ArgMax(a), tokens.Count + step, true)];
            model.Forward(row, exact, a);
            model.Forward(row, other, b);
            maxDiff = Math.Max(maxDiff, TinyModels.MaxAbsDiff(a, b));
        }
        return maxDiff;
    }

    [Fact]
    public void Kv_cache_formats_parse_from_settings_and_reach_the_generator()
    {
        Assert.Null(KvCache.ParseFormat("auto", "--kv"));
        Assert.Equal(KvFormat.Int8, KvCache.ParseFormat("INT8", "--kv"));
        Assert.Equal(KvFormat.F32, KvCache.ParseFormat("f32", "--kv"));
        Assert.Contains("ChatForge:KvCache", Assert.Throws<ArgumentException>(() => KvCache.ParseFormat("fp8", "ChatForge:KvCache")).Message);

        var model = new InferenceModel(TinyModels.RandomParameters(ConfigFor("gpt2"), seed: 17), WeightFormat.Bf16);
        using var generator = new Generator(model, new GeneratorOptions { MaxConcurrent = 1, KvCacheFormat = KvFormat.Int8 });
        var answer = generator.GenerateBatch([[1, 2, 3]], 4, SamplingOptions.Greedy);
        Assert.Equal(4, answer[0].Tokens.Count);
        Assert.Equal(FinishReason.Length, answer[0].Finish);
    }

    [Fact]
    public void Cache_slots_are_allocated_freed_and_reused()
    {
        var cache = new KvCache(TinyModels.Gpt2, slots: 2, maxT: 16);
        int a = cache.Allocate(), b = cache.Allocate();
        Assert.NotEqual(a, b);
        Assert.Equal(-1, cache.Allocate());
        cache.SetLength(a, 5);
        cache.Free(a);
        Assert.Throws<InvalidOperationException>(() => cache.Length(a));
        Assert.Throws<InvalidOperationException>(() => cache.Free(a));
        int c = cache.Allocate();
        Assert.Equal(a, c);
        Assert.Equal(0, cache.Length(c));
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvCache(TinyModels.Gpt2, 1, TinyModels.Gpt2.ContextLength + 1));
    }
}
