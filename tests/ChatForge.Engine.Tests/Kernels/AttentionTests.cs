using ChatForge.Engine.Kernels;
using static ChatForge.Engine.Tests.Kernels.AttentionReference;

namespace ChatForge.Engine.Tests.Kernels;

[Collection("Simd")]
public class AttentionTests
{
    /// <summary>Every path, each passed explicitly: Vector512 code runs (emulated, slowly) even on CPUs without AVX-512.</summary>
    internal static readonly SimdLevel[] AllLevels = [SimdLevel.Scalar, SimdLevel.Vector256, SimdLevel.Vector512];

    // (batch, t, heads, kvHeads, headDim): MHA and GQA, T = 1, T below / equal / not a multiple of the 64 block, odd head dims.
    public static TheoryData<int, int, int, int, int> ForwardCases => new()
    {
        { 2, 1, 4, 4, 16 },
        { 1, 64, 2, 2, 64 },
        { 2, 100, 4, 2, 64 },
        { 1, 130, 4, 1, 32 },
        { 1, 67, 3, 3, 5 },
        { 2, 129, 2, 1, 40 },
        { 1, 20, 2, 2, 128 },
    };

    [Theory]
    [MemberData(nameof(ForwardCases))]
    public void Forward_matches_float64_reference(int batch, int t, int heads, int kvHeads, int hd)
    {
        int qkvDim = (heads + 2 * kvHeads) * hd;
        var qkv = Random(batch * t * qkvDim, seed: t * 31 + hd, amplitude: 2f);
        var (expected, expectedLse) = AttentionReference.Forward(qkv, batch, t, heads, kvHeads, hd);
        foreach (var level in AllLevels)
        {
            var output = new float[batch * t * heads * hd];
            var lse = new float[batch * heads * t];
            Attention.Forward(qkv, output, lse, batch, t, heads, kvHeads, hd, level);
            AssertClose(expected, output, 2e-5, 1e-4, $"output at {level}");
            AssertClose(expectedLse, lse, 2e-5, 1e-5, $"lse at {level}");
        }
    }

    [Fact]
    public void Forward_and_backward_stay_finite_with_huge_scores()
    {
        // Scores in the thousands: exp overflows unless every block subtracts its running max.
        const int batch = 1, t = 90, heads = 2, kvHeads = 1, hd = 32;
        int qkvDim = (heads + 2 * kvHeads) * hd;
        var qkv = Random(batch * t * qkvDim, seed: 61, amplitude: 12f);
        var dOutput = Random(batch * t * heads * hd, seed: 62);
        var (expected, expectedLse) = AttentionReference.Forward(qkv, batch, t, heads, kvHeads, hd);
        var expectedGrad = AttentionReference.Backward(dOutput, qkv, batch, t, heads, kvHeads, hd);
        foreach (var level in AllLevels)
        {
            var output = new float[batch * t * heads * hd];
            var lse = new float[batch * heads * t];
            Attention.Forward(qkv, output, lse, batch, t, heads, kvHeads, hd, level);
            AssertClose(expected, output, 1e-4, 1e-3, $"output at {level}");
            AssertClose(expectedLse, lse, 1e-3, 1e-5, $"lse at {level}");
            var dQkv = new float[qkv.Length];
            Attention.Backward(dOutput, qkv, output, lse, dQkv, batch, t, heads, kvHeads, hd, level);
            Assert.All(dQkv, v => Assert.True(float.IsFinite(v)));
            AssertClose(expectedGrad, dQkv, 1e-3, 1e-3, $"dQkv at {level}");
        }
    }

    [Theory]
    [InlineData(2, 100, 4, 2, 64)]
    [InlineData(1, 70, 4, 1, 24)]
    [InlineData(1, 65, 2, 2, 17)]
    public void Backward_matches_analytic_float64_reference(int batch, int t, int heads, int kvHeads, int hd)
    {
        int qkvDim = (heads + 2 * kvHeads) * hd, outDim = heads * hd;
        var qkv = Random(batch * t * qkvDim, seed: 7 + t, amplitude: 2f);
        var dOutput = Random(batch * t * outDim, seed: 11 + t);
        var expected = AttentionReference.Backward(dOutput, qkv, batch, t, heads, kvHeads, hd);
        foreach (var level in AllLevels)
        {
            var output = new float[batch * t * outDim];
            var lse = new float[batch * heads * t];
            Attention.Forward(qkv, output, lse, batch, t, heads, kvHeads, hd, level);
            var dQkv = new float[qkv.Length];
            Array.Fill(dQkv, float.NaN); // the backward must overwrite every element
            Attention.Backward(dOutput, qkv, output, lse, dQkv, batch, t, heads, kvHeads, hd, level);
            AssertClose(expected, dQkv, 1e-4, 1e-3, $"dQkv at {level}");
        }
    }

    [Theory]
    [InlineData(1, 5, 2, 1, 4)]
    [InlineData(2, 3, 2, 2, 3)]
    public void Backward_matches_float64_finite_differences(int batch, int t, int heads, int kvHeads, int hd)
    {
        int qkvDim = (heads + 2 * kvHeads) * hd, outDim = heads * hd;
        var qkv = Random(batch * t * qkvDim, seed: 3, amplitude: 1.5f);
        var dOutput = Random(batch * t * outDim, seed: 5);
        // loss = Σ output ∘ dOutput, differentiated numerically through the float64 reference.
        double Loss(float[] x)
        {
            var (o, _) = AttentionReference.Forward(x, batch, t, heads, kvHeads, hd);
            double sum = 0;
            for (int i = 0; i < o.Length; i++) sum += o[i] * dOutput[i];
            return sum;
        }
        var numeric = new double[qkv.Length];
        const float eps = 1e-3f;
        for (int i = 0; i < qkv.Length; i++)
        {
            float saved = qkv[i];
            qkv[i] = saved + eps; double plus = Loss(qkv);
            qkv[i] = saved - eps; double minus = Loss(qkv);
            qkv[i] = saved;
            numeric[i] = (plus - minus) / ((double)(saved + eps) - (saved - eps));
        }
        foreach (var level in AllLevels)
        {
            var output = new float[batch * t * outDim];
            var lse = new float[batch * heads * t];
            Attention.Forward(qkv, output, lse, batch, t, heads, kvHeads, hd, level);
            var dQkv = new float[qkv.Length];
            Attention.Backward(dOutput, qkv, output, lse, dQkv, batch, t, heads, kvHeads, hd, level);
            AssertClose(numeric, dQkv, 2e-4, 2e-3, $"dQkv vs finite differences at {level}");
        }
    }

    [Theory]
    [InlineData(4, 2, 64)]
    [InlineData(4, 4, 16)]
    [InlineData(8, 1, 32)]
    public void CachedForward_prefill_equals_Forward_row_by_row(int heads, int kvHeads, int hd)
    {
        const int t = 150, maxT = 200, slot = 1, slotCount = 3;
        int qkvDim = (heads + 2 * kvHeads) * hd, qDim = heads * hd, kvDim = kvHeads * hd;
        var qkv = Random(t * qkvDim, seed: 21, amplitude: 2f);
        var q = new float[t * qDim];
        var kCache = Random(slotCount * maxT * kvDim, seed: 22); // other slots and later positions hold junk that must be ignored
        var vCache = Random(slotCount * maxT * kvDim, seed: 23);
        for (int i = 0; i < t; i++) qkv.AsSpan(i * qkvDim, qDim).CopyTo(q.AsSpan(i * qDim));
        Attention.WriteKvCache(qkv, Enumerable.Repeat(slot, t).ToArray(), Enumerable.Range(0, t).ToArray(), kCache, vCache, maxT, heads, kvHeads, hd);
        Assert.Equal(qkv.AsSpan(5 * qkvDim + qDim, kvDim).ToArray(), kCache.AsSpan((slot * maxT + 5) * kvDim, kvDim).ToArray());
        Assert.Equal(qkv.AsSpan(149 * qkvDim + qDim + kvDim, kvDim).ToArray(), vCache.AsSpan((slot * maxT + 149) * kvDim, kvDim).ToArray());
        foreach (var level in AllLevels)
        {
            var expected = new float[t * qDim];
            Attention.Forward(qkv, expected, new float[heads * t], 1, t, heads, kvHeads, hd, level);

            // The whole prompt at once, then the same prompt in two chunks (a prefill continuing an existing cache).
            var slots = Enumerable.Repeat(slot, t).ToArray();
            var positions = Enumerable.Range(0, t).ToArray();
            var whole = new float[t * qDim];
            Attention.CachedForward(q, slots, positions, kCache, vCache, maxT, whole, heads, kvHeads, hd, level);
            AssertClose(expected, whole, 2e-6, 2e-5, $"prefill at {level}");

            const int split = 70;
            var chunked = new float[t * qDim];
            Attention.CachedForward(q.AsSpan(0, split * qDim), slots.AsSpan(0, split), positions.AsSpan(0, split), kCache, vCache, maxT, chunked.AsSpan(0, split * qDim), heads, kvHeads, hd, level);
            Attention.CachedForward(q.AsSpan(split * qDim), slots.AsSpan(split), positions.AsSpan(split), kCache, vCache, maxT, chunked.AsSpan(split * qDim), heads, kvHeads, hd, level);
            AssertClose(expected, chunked, 2e-6, 2e-5, $"chunked prefill at {level}");
        }
    }

    [Theory]
    [InlineData(4, 2, 64)]
    [InlineData(2, 2, 7)]
    [InlineData(8, 1, 32)]
    [InlineData(2, 1, 80)]  // in place on AVX-512: one 64-column block of values and one of 16; on AVX2 two of 32 and two of 8
    [InlineData(2, 2, 128)]
    public void Batched_decode_equals_each_sequence_alone_and_the_reference(int heads, int kvHeads, int hd)
    {
        const int maxT = 160, slotCount = 4;
        int qDim = heads * hd, kvDim = kvHeads * hd;
        int[] slots = [0, 3, 1];
        int[] lengths = [5, 70, 131];
        var kCache = Random(slotCount * maxT * kvDim, seed: 31, amplitude: 2f);
        var vCache = Random(slotCount * maxT * kvDim, seed: 32);
        var q = Random(slots.Length * qDim, seed: 33, amplitude: 2f);
        var positions = lengths.Select(l => l - 1).ToArray();
        foreach (var level in AllLevels)
        {
            var batched = new float[slots.Length * qDim];
            Attention.CachedForward(q, slots, positions, kCache, vCache, maxT, batched, heads, kvHeads, hd, level);
            for (int r = 0; r < slots.Length; r++)
            {
                var alone = new float[qDim];
                Attention.CachedForward(q.AsSpan(r * qDim, qDim), slots.AsSpan(r, 1), positions.AsSpan(r, 1), kCache, vCache, maxT, alone, heads, kvHeads, hd, level);
                Assert.Equal(alone, batched.AsSpan(r * qDim, qDim).ToArray());

                var expected = DecodeReference(kCache, vCache, maxT, slots[r], lengths[r], q.AsSpan(r * qDim, qDim), heads, kvHeads, hd);
                AssertClose(expected, alone, 2e-5, 1e-4, $"decode row {r} at {level}");
            }
        }
    }

    /// <summary>Cache geometry of the two tests below: 4 slots of 160 positions.</summary>
    const int CacheMaxT = 160, CacheSlots = 4;

    delegate void CachedRun(float[] q, int[] slots, int[] positions, float[] output, SimdLevel level);

    /// <summary>
    /// Decode rows of three slots and a 90-row prefill, on every SIMD level: <paramref name="run"/> over the cache under
    /// test must give exactly what the float cache holding its values gives.
    /// </summary>
    static void AssertSameAsFloatCache(int heads, int kvHeads, int hd, float[] kCache, float[] vCache, CachedRun run)
    {
        int qDim = heads * hd;
        int[] decodeSlots = [0, 3, 1], decodePositions = [4, 69, 130];
        const int prefillRows = 90;
        var prefillSlots = Enumerable.Repeat(2, prefillRows).ToArray();
        var prefillPositions = Enumerable.Range(20, prefillRows).ToArray();
        foreach (var level in AllLevels)
        foreach (var (slots, positions) in new[] { (decodeSlots, decodePositions), (prefillSlots, prefillPositions) })
        using (Simd.Force(level <= Simd.Best ? level : Simd.Best))
        {
            var q = Random(slots.Length * qDim, seed: 43, amplitude: 2f);
            var fromFloat = new float[q.Length];
            var fromCache = new float[q.Length];
            Attention.CachedForward(q, slots, positions, kCache, vCache, CacheMaxT, fromFloat, heads, kvHeads, hd, level);
            run(q, slots, positions, fromCache, level);
            Assert.Equal(fromFloat, fromCache);
        }
    }

    [Theory]
    [InlineData(4, 2, 64)]
    [InlineData(2, 2, 7)]
    [InlineData(8, 1, 32)]
    public void A_bf16_cache_gives_exactly_the_result_of_a_float_cache_holding_the_same_values(int heads, int kvHeads, int hd)
    {
        // Widening bf16 is exact and the kernels visit keys in the same order, so decode and prefill must agree bit for bit.
        int length = CacheSlots * CacheMaxT * kvHeads * hd;
        var (kBf16, vBf16) = (new ushort[length], new ushort[length]);
        Bf16.FromFloat(Random(length, seed: 41, amplitude: 2f), kBf16);
        Bf16.FromFloat(Random(length, seed: 42), vBf16);
        AssertSameAsFloatCache(heads, kvHeads, hd, kBf16.Select(Bf16.ToFloat).ToArray(), vBf16.Select(Bf16.ToFloat).ToArray(),
            (q, slots, positions, output, level) =>
                Attention.CachedForward(q, slots, positions, (ReadOnlySpan<ushort>)kBf16, vBf16, CacheMaxT, output, heads, kvHeads, hd, level));
    }

    [Theory]
    [InlineData(4, 2, 64)]
    [InlineData(2, 2, 7)]
    [InlineData(8, 1, 32)]
    public void An_int8_cache_gives_exactly_the_result_of_a_float_cache_holding_its_scaled_values(int heads, int kvHeads, int hd)
    {
        // int8 · scale is exact in float32 and the kernels visit keys in the same order, so decode and prefill agree bit
        // for bit with a float cache holding the dequantised values: what is left is only the rounding when writing.
        int length = CacheSlots * CacheMaxT * kvHeads * hd, vectors = length / hd;
        var (kInt8, vInt8) = (new sbyte[length], new sbyte[length]);
        var (kScales, vScales) = (new float[vectors], new float[vectors]);
        var (kSource, vSource) = (Random(length, seed: 41, amplitude: 2f), Random(length, seed: 42));
        for (int i = 0; i < vectors; i++)
        {
            kScales[i] = Int8Vectors.Quantize(kSource.AsSpan(i * hd, hd), kInt8.AsSpan(i * hd, hd));
            vScales[i] = Int8Vectors.Quantize(vSource.AsSpan(i * hd, hd), vInt8.AsSpan(i * hd, hd));
        }
        AssertSameAsFloatCache(heads, kvHeads, hd, kInt8.Select((x, i) => x * kScales[i / hd]).ToArray(), vInt8.Select((x, i) => x * vScales[i / hd]).ToArray(),
            (q, slots, positions, output, level) =>
                Attention.CachedForward(q, slots, positions, kInt8, vInt8, kScales, vScales, CacheMaxT, output, heads, kvHeads, hd, level));
        int qDim = heads * hd;
        var e = Assert.Throws<ArgumentException>(() => Attention.CachedForward(new float[qDim], [0], [3], kInt8, vInt8, kScales.AsSpan(1), vScales,
            CacheMaxT, new float[qDim], heads, kvHeads, hd));
        Assert.Contains("scales", e.Message);
    }

    [Fact]
    public void Int8_vectors_round_to_within_half_a_step_and_every_path_widens_alike()
    {
        var source = Random(37, seed: 6, amplitude: 3f);
        var q = new sbyte[37];
        float scale = Int8Vectors.Quantize(source, q);
        Assert.Equal(source.Max(MathF.Abs) / 127f, scale, 6);
        Assert.Contains(q, x => Math.Abs(x) == 127);
        for (int i = 0; i < source.Length; i++) Assert.True(MathF.Abs(q[i] * scale - source[i]) <= scale / 2 * 1.0001f, $"element {i}");
        Assert.Equal(0, Int8Vectors.Quantize(new float[5], q));
        Assert.All(q.Take(5), x => Assert.Equal(0, x));
        Int8Vectors.Quantize(source, q);

        var scalar = q.Select(x => x * scale).ToArray();
        foreach (var level in AllLevels.Where(l => l <= Simd.Best))
            using (Simd.Force(level))
            {
                var widened = new float[q.Length];
                unsafe
                {
                    fixed (sbyte* pq = q)
                    fixed (float* pw = widened)
                        Int8Vectors.ToFloat(pq, scale, pw, q.Length); // 4 vector steps and a 5-value tail
                }
                Assert.Equal(scalar, widened);
            }
    }

    [Fact]
    public void Bf16_widening_vector_body_and_scalar_tail_agree()
    {
        var source = new ushort[37];
        var rng = new Random(5);
        for (int i = 0; i < source.Length; i++) source[i] = (ushort)rng.Next(0, 0x7F80); // finite values of every exponent
        var scalar = source.Select(Bf16.ToFloat).ToArray();
        foreach (var level in AllLevels.Where(l => l <= Simd.Best))
            using (Simd.Force(level))
            {
                var widened = new float[source.Length];
                Bf16.ToFloat(source, widened);
                Assert.Equal(scalar, widened);
            }
    }

    [Fact]
    public void Public_overloads_follow_the_forced_level()
    {
        const int t = 70, heads = 4, kvHeads = 2, hd = 16, qkvDim = (heads + 2 * kvHeads) * hd;
        var qkv = Random(t * qkvDim, seed: 41);
        var dOutput = Random(t * heads * hd, seed: 42);
        foreach (var level in Simd.Supported())
        using (Simd.Force(level))
        {
            float[] output = new float[t * heads * hd], lse = new float[heads * t], dQkv = new float[qkv.Length];
            float[] output2 = new float[t * heads * hd], lse2 = new float[heads * t], dQkv2 = new float[qkv.Length];
            Attention.Forward(qkv, output, lse, 1, t, heads, kvHeads, hd);
            Attention.Backward(dOutput, qkv, output, lse, dQkv, 1, t, heads, kvHeads, hd);
            Attention.Forward(qkv, output2, lse2, 1, t, heads, kvHeads, hd, level);
            Attention.Backward(dOutput, qkv, output2, lse2, dQkv2, 1, t, heads, kvHeads, hd, level);
            Assert.Equal(output2, output);
            Assert.Equal(dQkv2, dQkv);
        }
    }

    /// <summary>The float64 reference for one decode query: the slot's first `length` cache rows as a qkv block whose last row carries the query.</summary>
    static double[] DecodeReference(float[] kCache, float[] vCache, int maxT, int slot, int length, ReadOnlySpan<float> query, int heads, int kvHeads, int hd)
    {
        int qDim = heads * hd, kvDim = kvHeads * hd, qkvDim = qDim + 2 * kvDim;
        var qkv = new float[length * qkvDim];
        for (int i = 0; i < length; i++)
        {
            kCache.AsSpan((slot * maxT + i) * kvDim, kvDim).CopyTo(qkv.AsSpan(i * qkvDim + qDim));
            vCache.AsSpan((slot * maxT + i) * kvDim, kvDim).CopyTo(qkv.AsSpan(i * qkvDim + qDim + kvDim));
        }
        query.CopyTo(qkv.AsSpan((length - 1) * qkvDim));
        var (expected, _) = AttentionReference.Forward(qkv, 1, length, heads, kvHeads, hd);
        return expected.AsSpan((length - 1) * qDim, qDim).ToArray();
    }

    [Fact]
    public void Long_decode_rows_match_the_reference_whether_or_not_their_key_chunks_are_shared_out()
    {
        // Past 256 keys decode keeps one softmax state per chunk of keys and merges them; a lone row (batch 1) has
        // its chunks shared out between the threads. Either way the result is the same, bit for bit.
        const int heads = 4, kvHeads = 2, hd = 16, maxT = 800, slotCount = 3;
        int qDim = heads * hd, kvDim = kvHeads * hd;
        int[] slots = [2, 0, 1];
        int[] lengths = [700, 513, 256];
        var kCache = Random(slotCount * maxT * kvDim, seed: 61, amplitude: 2f);
        var vCache = Random(slotCount * maxT * kvDim, seed: 62);
        var q = Random(slots.Length * qDim, seed: 63, amplitude: 2f);
        var positions = lengths.Select(l => l - 1).ToArray();
        int saved = KernelThreads.Count;
        try
        {
            foreach (var level in AllLevels)
            {
                float[]? first = null;
                foreach (int threads in new[] { 1, 2, 3, 5 })
                {
                    KernelThreads.Count = threads;
                    var batched = new float[slots.Length * qDim];
                    Attention.CachedForward(q, slots, positions, kCache, vCache, maxT, batched, heads, kvHeads, hd, level);
                    first ??= batched;
                    Assert.Equal(first, batched);
                    for (int r = 0; r < slots.Length; r++)
                    {
                        var alone = new float[qDim];
                        Attention.CachedForward(q.AsSpan(r * qDim, qDim), slots.AsSpan(r, 1), positions.AsSpan(r, 1), kCache, vCache, maxT, alone, heads, kvHeads, hd, level);
                        Assert.Equal(batched.AsSpan(r * qDim, qDim).ToArray(), alone);
                    }
                }
                for (int r = 0; r < slots.Length; r++)
                {
                    var expected = DecodeReference(kCache, vCache, maxT, slots[r], lengths[r], q.AsSpan(r * qDim, qDim), heads, kvHeads, hd);
                    AssertClose(expected, first!.AsSpan(r * qDim, qDim), 2e-5, 1e-4, $"row {r} ({lengths[r]} keys) at {level}");
                }
            }
        }
        finally
        {
            KernelThreads.Count = saved;
        }
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        const int batch = 1, t = 150, heads = 4, kvHeads = 1, hd = 32, maxT = 160;
        int qkvDim = (heads + 2 * kvHeads) * hd, qDim = heads * hd, kvDim = kvHeads * hd;
        var qkv = Random(batch * t * qkvDim, seed: 51);
        var dOutput = Random(batch * t * qDim, seed: 52);
        var kCache = Random(3 * maxT * kvDim, seed: 53);
        var vCache = Random(3 * maxT * kvDim, seed: 54);
        var q = Random(t * qDim, seed: 55);
        int[] prefillSlots = Enumerable.Repeat(2, t).ToArray(), prefillPositions = Enumerable.Range(0, t).ToArray();
        int[] decodeSlots = [0, 1, 2], decodePositions = [3, 159, 80];

        (float[], float[], float[], float[]) Run()
        {
            float[] output = new float[batch * t * qDim], lse = new float[batch * heads * t], dQkv = new float[qkv.Length];
            Attention.Forward(qkv, output, lse, batch, t, heads, kvHeads, hd);
            Attention.Backward(dOutput, qkv, output, lse, dQkv, batch, t, heads, kvHeads, hd);
            var prefill = new float[t * qDim];
            Attention.CachedForward(q, prefillSlots, prefillPositions, kCache, vCache, maxT, prefill, heads, kvHeads, hd);
            var decode = new float[3 * qDim];
            Attention.CachedForward(q.AsSpan(0, 3 * qDim), decodeSlots, decodePositions, kCache, vCache, maxT, decode, heads, kvHeads, hd);
            return (output, dQkv, prefill, decode);
        }

        int saved = KernelThreads.Count;
        try
        {
            KernelThreads.Count = 1;
            var one = Run();
            KernelThreads.Count = 3;
            var three = Run();
            Assert.Equal(one.Item1, three.Item1);
            Assert.Equal(one.Item2, three.Item2);
            Assert.Equal(one.Item3, three.Item3);
            Assert.Equal(one.Item4, three.Item4);
        }
        finally
        {
            KernelThreads.Count = saved;
        }
    }

    [Fact]
    public void The_transposing_sum_trees_give_one_horizontal_sum_per_input()
    {
        // Decode scores sum sixteen (AVX-512) or eight (AVX2) keys' partial products together; lane j must be Σ of input j.
        var rng = new Random(5);
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            var a = Enumerable.Range(0, 16).Select(_ => System.Runtime.Intrinsics.Vector512.Create(Enumerable.Range(0, 16).Select(_ => (float)rng.NextDouble()).ToArray())).ToArray();
            var sums = Attention.Sum16(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]);
            // Slot 4k + i lands in lane 4i + k.
            for (int k = 0; k < 4; k++)
                for (int i = 0; i < 4; i++)
                    Assert.Equal(System.Runtime.Intrinsics.Vector512.Sum(a[4 * k + i]), sums[4 * i + k], 1e-4f);
        }
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported)
        {
            var b = Enumerable.Range(0, 8).Select(_ => System.Runtime.Intrinsics.Vector256.Create(Enumerable.Range(0, 8).Select(_ => (float)rng.NextDouble()).ToArray())).ToArray();
            var sums = Attention.Sum8(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
            for (int j = 0; j < 8; j++) Assert.Equal(System.Runtime.Intrinsics.Vector256.Sum(b[j]), sums[j], 1e-4f);
        }
    }

    [Fact]
    public void Wrong_shapes_name_the_shapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Attention.Forward(new float[10], new float[2 * 3 * 8], new float[2 * 2 * 3], 2, 3, 2, 1, 4));
        Assert.Contains("qkv", ex.Message);
        Assert.Contains("[2, 3, 16]", ex.Message);
        Assert.Contains("10", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => Attention.Forward(new float[2 * 3 * 16], new float[2 * 3 * 16], new float[2 * 2 * 3], 2, 3, 2, 1, 4));
        Assert.Contains("output", ex.Message);
        Assert.Contains("[2, 3, 8]", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => Attention.Backward(new float[48], new float[96], new float[48], new float[11], new float[96], 2, 3, 2, 1, 4));
        Assert.Contains("lse", ex.Message);
        Assert.Contains("[2, 2, 3]", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => Attention.Forward(new float[0], new float[0], new float[0], 1, 1, 3, 2, 4));
        Assert.Contains("multiple", ex.Message);

        ex = Assert.Throws<ArgumentException>(() =>
            Attention.CachedForward(new float[8], new int[1], new int[2], new float[10 * 4], new float[10 * 4], 10, new float[8], 2, 1, 4));
        Assert.Contains("positions", ex.Message);

        ex = Assert.Throws<ArgumentException>(() =>
            Attention.CachedForward(new float[8], new int[1], new int[1], new float[10 * 4 + 1], new float[10 * 4 + 1], 10, new float[8], 2, 1, 4));
        Assert.Contains("[10, 4]", ex.Message);

        var range = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Attention.CachedForward(new float[8], new[] { 2 }, new int[1], new float[2 * 10 * 4], new float[2 * 10 * 4], 10, new float[8], 2, 1, 4));
        Assert.Contains("slot 2", range.Message);

        range = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Attention.CachedForward(new float[8], new int[1], new[] { 10 }, new float[2 * 10 * 4], new float[2 * 10 * 4], 10, new float[8], 2, 1, 4));
        Assert.Contains("position 10", range.Message);

        range = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Attention.WriteKvCache(new float[16], new[] { 0 }, new[] { 10 }, new float[2 * 10 * 4], new float[2 * 10 * 4], 10, 2, 1, 4));
        Assert.Contains("position 10", range.Message);
        ex = Assert.Throws<ArgumentException>(() =>
            Attention.WriteKvCache(new float[15], new[] { 0 }, new[] { 1 }, new float[2 * 10 * 4], new float[2 * 10 * 4], 10, 2, 1, 4));
        Assert.Contains("[1, 16]", ex.Message);
    }
}
