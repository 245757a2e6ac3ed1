using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// The decode inner loop on AVX-512 and AVX2, reading the cache in place. For one block of keys it computes each query's
/// scores sixteen (eight) keys at a time and sums them horizontally only once per group, with a transposing shuffle tree
/// instead of one reduction per key: with a head of 64 floats a per-key reduction costs more than the key's four FMAs.
/// bf16 and int8 rows are widened in registers as they are loaded, not copied into float32 scratch first (that second
/// pass through memory cost about as much as the arithmetic). Every cache format goes through the same FMAs in the
/// same order, so a bf16 or int8 cache still gives exactly what a float cache holding its values gives.
/// </summary>
public static unsafe partial class Attention
{
    /// <summary>Whether <see cref="DecodeBlockInPlace"/> serves this level and head size (the hardware intrinsics, whole vectors per head).</summary>
    static bool DecodesInPlace(SimdLevel level, int hd) => level switch
    {
        SimdLevel.Vector512 => Avx512F.IsSupported && hd % 16 == 0,
        SimdLevel.Vector256 => Avx2.IsSupported && Fma.IsSupported && hd % 8 == 0,
        _ => false,
    };

    /// <summary>
    /// Keys [j0, j0 + bk) of one slot for the row's queries (query e: kv head g0 + e / group, scaled q at qs + e·hd):
    /// scores into scores[e·BlockK ..], then the online softmax (rowMax, rowSum, rescaling acc), then acc += p·V.
    /// </summary>
    static void DecodeBlockInPlace(SimdLevel level, KvView kv, CacheDims s, int slot, int g0, int queries, int j0, int bk,
        float* qs, float* scores, float* rowMax, float* rowSum, float* acc)
    {
        if (kv.IsBf16) DecodeBlock(level, new Bf16Rows((ushort*)kv.KeysBase), new Bf16Rows((ushort*)kv.ValuesBase), s, slot, g0, queries, j0, bk, qs, scores, rowMax, rowSum, acc);
        else if (kv.IsInt8)
            DecodeBlock(level, new Int8Rows((sbyte*)kv.KeysBase, (float*)kv.KeyScalesBase), new Int8Rows((sbyte*)kv.ValuesBase, (float*)kv.ValueScalesBase),
                s, slot, g0, queries, j0, bk, qs, scores, rowMax, rowSum, acc);
        else DecodeBlock(level, new F32Rows((float*)kv.KeysBase), new F32Rows((float*)kv.ValuesBase), s, slot, g0, queries, j0, bk, qs, scores, rowMax, rowSum, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void DecodeBlock<T>(SimdLevel level, T keys, T values, CacheDims s, int slot, int g0, int queries, int j0, int bk,
        float* qs, float* scores, float* rowMax, float* rowSum, float* acc) where T : struct, ICacheRows
    {
        int hd = s.HeadDim, group = s.Group;
        nint row0 = (nint)slot * s.MaxT + j0;
        // Query e reads kv head g0 + e / group from cache row row0 on.
        Rows At(int e)
        {
            int h = g0 + e / group;
            return new Rows(row0 * s.KvDim + h * hd, row0 * s.KvHeads + h, s.KvDim, s.KvHeads);
        }
        // Queries of one kv head are consecutive, so its block of keys and values is read from memory once and then from L1.
        for (int e = 0; e < queries; e++)
        {
            var at = At(e);
            if (level == SimdLevel.Vector512) Scores512(keys, qs + e * hd, hd, at, bk, scores + e * BlockK);
            else Scores256(keys, qs + e * hd, hd, at, bk, scores + e * BlockK);
        }
        for (int e = 0; e < queries; e++)
            OnlineSoftmaxRow(level, scores + e * BlockK, bk, bk, rowMax + e, rowSum + e, acc + e * hd, hd);
        for (int e = 0; e < queries; e++)
        {
            var at = At(e);
            if (level == SimdLevel.Vector512) Values512(values, scores + e * BlockK, bk, at, acc + e * hd, hd);
            else Values256(values, scores + e * BlockK, bk, at, acc + e * hd, hd);
        }
    }

    /// <summary>A head's row of the first key in the cache (element and int8 scale index) and the steps to the next position.</summary>
    readonly record struct Rows(nint Element, nint Scale, nint ElementStep, nint ScaleStep);

    /// <summary>Loads 16 or 8 consecutive cache values as float32, widened (and scaled) in registers.</summary>
    interface ICacheRows
    {
        Vector512<float> Load512(nint element, nint scale);
        Vector256<float> Load256(nint element, nint scale);
    }

    readonly struct F32Rows(float* data) : ICacheRows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Load512(nint element, nint scale) => Vector512.Load(data + element);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Load256(nint element, nint scale) => Vector256.Load(data + element);
    }

    readonly struct Bf16Rows(ushort* data) : ICacheRows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Load512(nint element, nint scale) =>
            Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load(data + element)), 16).AsSingle();
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Load256(nint element, nint scale) =>
            Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(data + element), 16).AsSingle();
    }

    /// <summary>int8 · the (position, kv head) scale: the same product <see cref="Int8Vectors.ToFloat"/> computes.</summary>
    readonly struct Int8Rows(sbyte* data, float* scales) : ICacheRows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Load512(nint element, nint scale) =>
            Avx512F.Multiply(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(data + element))), Vector512.Create(scales[scale]));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Load256(nint element, nint scale) =>
            Avx.Multiply(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(data + element)), Vector256.Create(scales[scale]));
    }

    // ---------- AVX-512 ----------

    /// <summary>
    /// Scores of sixteen keys at a time: per column block one load of q feeds sixteen independent FMA chains of per-lane
    /// partial products, summed horizontally together at the end (<see cref="Sum16"/>); the last bk % 16 keys one by one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scores512<T>(T keys, float* q, int hd, Rows at, int bk, float* scores) where T : struct, ICacheRows
    {
        nint es = at.ElementStep, ss = at.ScaleStep;
        int j = 0;
        for (; j + 16 <= bk; j += 16)
        {
            nint e = at.Element + j * es, sc = at.Scale + j * ss;
            nint e4 = e + 4 * es, e8 = e + 8 * es, e12 = e + 12 * es, s4 = sc + 4 * ss, s8 = sc + 8 * ss, s12 = sc + 12 * ss;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            Vector512<float> a8 = default, a9 = default, a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
            for (int c = 0; c < hd; c += 16)
            {
                var x = Vector512.Load(q + c);
                a0 = Vector512.FusedMultiplyAdd(x, keys.Load512(e + c, sc), a0);
                a1 = Vector512.FusedMultiplyAdd(x, keys.Load512(e + es + c, sc + ss), a1);
                a2 = Vector512.FusedMultiplyAdd(x, keys.Load512(e + 2 * es + c, sc + 2 * ss), a2);
                a3 = Vector512.FusedMultiplyAdd(x, keys.Load512(e + 3 * es + c, sc + 3 * ss), a3);
                a4 = Vector512.FusedMultiplyAdd(x, keys.Load512(e4 + c, s4), a4);
                a5 = Vector512.FusedMultiplyAdd(x, keys.Load512(e4 + es + c, s4 + ss), a5);
                a6 = Vector512.FusedMultiplyAdd(x, keys.Load512(e4 + 2 * es + c, s4 + 2 * ss), a6);
                a7 = Vector512.FusedMultiplyAdd(x, keys.Load512(e4 + 3 * es + c, s4 + 3 * ss), a7);
                a8 = Vector512.FusedMultiplyAdd(x, keys.Load512(e8 + c, s8), a8);
                a9 = Vector512.FusedMultiplyAdd(x, keys.Load512(e8 + es + c, s8 + ss), a9);
                a10 = Vector512.FusedMultiplyAdd(x, keys.Load512(e8 + 2 * es + c, s8 + 2 * ss), a10);
                a11 = Vector512.FusedMultiplyAdd(x, keys.Load512(e8 + 3 * es + c, s8 + 3 * ss), a11);
                a12 = Vector512.FusedMultiplyAdd(x, keys.Load512(e12 + c, s12), a12);
                a13 = Vector512.FusedMultiplyAdd(x, keys.Load512(e12 + es + c, s12 + ss), a13);
                a14 = Vector512.FusedMultiplyAdd(x, keys.Load512(e12 + 2 * es + c, s12 + 2 * ss), a14);
                a15 = Vector512.FusedMultiplyAdd(x, keys.Load512(e12 + 3 * es + c, s12 + 3 * ss), a15);
            }
            // The tree leaves slot 4k + i's sum in lane 4i + k: pass the keys transposed so that lane j holds key j.
            Sum16(a0, a4, a8, a12, a1, a5, a9, a13, a2, a6, a10, a14, a3, a7, a11, a15).Store(scores + j);
        }
        for (; j < bk; j++)
        {
            nint e = at.Element + j * es, sc = at.Scale + j * ss;
            Vector512<float> a = default;
            for (int c = 0; c < hd; c += 16) a = Vector512.FusedMultiplyAdd(Vector512.Load(q + c), keys.Load512(e + c, sc), a);
            scores[j] = Vector512.Sum(a);
        }
    }

    /// <summary>
    /// Sixteen horizontal sums at once: halves of 256, then 128 bits added across pairs of inputs (vshuff32x4), then pairs
    /// and single floats within 128-bit lanes (vshufps). Input slot 4k + i ends in output lane 4i + k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Sum16(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3,
        Vector512<float> a4, Vector512<float> a5, Vector512<float> a6, Vector512<float> a7, Vector512<float> a8, Vector512<float> a9,
        Vector512<float> a10, Vector512<float> a11, Vector512<float> a12, Vector512<float> a13, Vector512<float> a14, Vector512<float> a15)
    {
        // [x lanes 0+2, x lanes 1+3, y lanes 0+2, y lanes 1+3] (128-bit lanes).
        static Vector512<float> Halves(Vector512<float> x, Vector512<float> y) => Avx512F.Shuffle4x128(x, y, 0x44) + Avx512F.Shuffle4x128(x, y, 0xEE);
        // [x's 4 partials, x2's, y's, y2's] where x = (x, x2) packed by Halves.
        static Vector512<float> Quarters(Vector512<float> x, Vector512<float> y) => Avx512F.Shuffle4x128(x, y, 0x88) + Avx512F.Shuffle4x128(x, y, 0xDD);
        static Vector512<float> Pairs(Vector512<float> x, Vector512<float> y) => Avx512F.Shuffle(x, y, 0x44) + Avx512F.Shuffle(x, y, 0xEE);
        static Vector512<float> Singles(Vector512<float> x, Vector512<float> y) => Avx512F.Shuffle(x, y, 0x88) + Avx512F.Shuffle(x, y, 0xDD);
        var u0 = Quarters(Halves(a0, a1), Halves(a2, a3));
        var u1 = Quarters(Halves(a4, a5), Halves(a6, a7));
        var u2 = Quarters(Halves(a8, a9), Halves(a10, a11));
        var u3 = Quarters(Halves(a12, a13), Halves(a14, a15));
        return Singles(Pairs(u0, u1), Pairs(u2, u3));
    }

    /// <summary>acc[0..hd) += Σ_j p[j]·V[j]: 64 columns at a time in registers, even and odd keys in separate sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Values512<T>(T values, float* p, int bk, Rows at, float* acc, int hd) where T : struct, ICacheRows
    {
        int c = 0;
        for (; c + 64 <= hd; c += 64)
        {
            Vector512<float> o0 = Vector512.Load(acc + c), o1 = Vector512.Load(acc + c + 16), o2 = Vector512.Load(acc + c + 32), o3 = Vector512.Load(acc + c + 48);
            Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
            nint ve = at.Element, vs = at.Scale;
            int j = 0;
            for (; j + 2 <= bk; j += 2)
            {
                var w = Vector512.Create(p[j]);
                o0 = Vector512.FusedMultiplyAdd(w, values.Load512(ve + c, vs), o0); o1 = Vector512.FusedMultiplyAdd(w, values.Load512(ve + c + 16, vs), o1);
                o2 = Vector512.FusedMultiplyAdd(w, values.Load512(ve + c + 32, vs), o2); o3 = Vector512.FusedMultiplyAdd(w, values.Load512(ve + c + 48, vs), o3);
                ve += at.ElementStep; vs += at.ScaleStep;
                w = Vector512.Create(p[j + 1]);
                d0 = Vector512.FusedMultiplyAdd(w, values.Load512(ve + c, vs), d0); d1 = Vector512.FusedMultiplyAdd(w, values.Load512(ve + c + 16, vs), d1);
                d2 = Vector512.FusedMultiplyAdd(w, values.Load512(ve + c + 32, vs), d2); d3 = Vector512.FusedMultiplyAdd(w, values.Load512(ve + c + 48, vs), d3);
                ve += at.ElementStep; vs += at.ScaleStep;
            }
            if (j < bk)
            {
                var w = Vector512.Create(p[j]);
                o0 = Vector512.FusedMultiplyAdd(w, values.Load512(ve + c, vs), o0); o1 = Vector512.FusedMultiplyAdd(w, values.Load512(ve + c + 16, vs), o1);
                o2 = Vector512.FusedMultiplyAdd(w, values.Load512(ve + c + 32, vs), o2); o3 = Vector512.FusedMultiplyAdd(w, values.Load512(ve + c + 48, vs), o3);
            }
            (o0 + d0).Store(acc + c); (o1 + d1).Store(acc + c + 16); (o2 + d2).Store(acc + c + 32); (o3 + d3).Store(acc + c + 48);
        }
        for (; c < hd; c += 16)
        {
            Vector512<float> o = Vector512.Load(acc + c), d = default;
            nint ve = at.Element, vs = at.Scale;
            int j = 0;
            for (; j + 2 <= bk; j += 2)
            {
                o = Vector512.FusedMultiplyAdd(Vector512.Create(p[j]), values.Load512(ve + c, vs), o);
                ve += at.ElementStep; vs += at.ScaleStep;
                d = Vector512.FusedMultiplyAdd(Vector512.Create(p[j + 1]), values.Load512(ve + c, vs), d);
                ve += at.ElementStep; vs += at.ScaleStep;
            }
            if (j < bk) o = Vector512.FusedMultiplyAdd(Vector512.Create(p[j]), values.Load512(ve + c, vs), o);
            (o + d).Store(acc + c);
        }
    }

    // ---------- AVX2 ----------

    /// <summary>Scores of eight keys at a time, as <see cref="Scores512"/> does sixteen.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scores256<T>(T keys, float* q, int hd, Rows at, int bk, float* scores) where T : struct, ICacheRows
    {
        nint es = at.ElementStep, ss = at.ScaleStep;
        int j = 0;
        for (; j + 8 <= bk; j += 8)
        {
            nint e = at.Element + j * es, sc = at.Scale + j * ss, e4 = e + 4 * es, s4 = sc + 4 * ss;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (int c = 0; c < hd; c += 8)
            {
                var x = Vector256.Load(q + c);
                a0 = Vector256.FusedMultiplyAdd(x, keys.Load256(e + c, sc), a0);
                a1 = Vector256.FusedMultiplyAdd(x, keys.Load256(e + es + c, sc + ss), a1);
                a2 = Vector256.FusedMultiplyAdd(x, keys.Load256(e + 2 * es + c, sc + 2 * ss), a2);
                a3 = Vector256.FusedMultiplyAdd(x, keys.Load256(e + 3 * es + c, sc + 3 * ss), a3);
                a4 = Vector256.FusedMultiplyAdd(x, keys.Load256(e4 + c, s4), a4);
                a5 = Vector256.FusedMultiplyAdd(x, keys.Load256(e4 + es + c, s4 + ss), a5);
                a6 = Vector256.FusedMultiplyAdd(x, keys.Load256(e4 + 2 * es + c, s4 + 2 * ss), a6);
                a7 = Vector256.FusedMultiplyAdd(x, keys.Load256(e4 + 3 * es + c, s4 + 3 * ss), a7);
            }
            Sum8(a0, a1, a2, a3, a4, a5, a6, a7).Store(scores + j);
        }
        for (; j < bk; j++)
        {
            nint e = at.Element + j * es, sc = at.Scale + j * ss;
            Vector256<float> a = default;
            for (int c = 0; c < hd; c += 8) a = Vector256.FusedMultiplyAdd(Vector256.Load(q + c), keys.Load256(e + c, sc), a);
            scores[j] = Vector256.Sum(a);
        }
    }

    /// <summary>Eight horizontal sums at once (vhaddps twice, then the two 128-bit lanes added): lane j holds Σ a_j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Sum8(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3,
        Vector256<float> a4, Vector256<float> a5, Vector256<float> a6, Vector256<float> a7)
    {
        var lo = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
        var hi = Avx.HorizontalAdd(Avx.HorizontalAdd(a4, a5), Avx.HorizontalAdd(a6, a7));
        return Avx.Permute2x128(lo, hi, 0x20) + Avx.Permute2x128(lo, hi, 0x31);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Values256<T>(T values, float* p, int bk, Rows at, float* acc, int hd) where T : struct, ICacheRows
    {
        int c = 0;
        for (; c + 32 <= hd; c += 32)
        {
            Vector256<float> o0 = Vector256.Load(acc + c), o1 = Vector256.Load(acc + c + 8), o2 = Vector256.Load(acc + c + 16), o3 = Vector256.Load(acc + c + 24);
            Vector256<float> d0 = default, d1 = default, d2 = default, d3 = default;
            nint ve = at.Element, vs = at.Scale;
            int j = 0;
            for (; j + 2 <= bk; j += 2)
            {
                var w = Vector256.Create(p[j]);
                o0 = Vector256.FusedMultiplyAdd(w, values.Load256(ve + c, vs), o0); o1 = Vector256.FusedMultiplyAdd(w, values.Load256(ve + c + 8, vs), o1);
                o2 = Vector256.FusedMultiplyAdd(w, values.Load256(ve + c + 16, vs), o2); o3 = Vector256.FusedMultiplyAdd(w, values.Load256(ve + c + 24, vs), o3);
                ve += at.ElementStep; vs += at.ScaleStep;
                w = Vector256.Create(p[j + 1]);
                d0 = Vector256.FusedMultiplyAdd(w, values.Load256(ve + c, vs), d0); d1 = Vector256.FusedMultiplyAdd(w, values.Load256(ve + c + 8, vs), d1);
                d2 = Vector256.FusedMultiplyAdd(w, values.Load256(ve + c + 16, vs), d2); d3 = Vector256.FusedMultiplyAdd(w, values.Load256(ve + c + 24, vs), d3);
                ve += at.ElementStep; vs += at.ScaleStep;
            }
            if (j < bk)
            {
                var w = Vector256.Create(p[j]);
                o0 = Vector256.FusedMultiplyAdd(w, values.Load256(ve + c, vs), o0); o1 = Vector256.FusedMultiplyAdd(w, values.Load256(ve + c + 8, vs), o1);
                o2 = Vector256.FusedMultiplyAdd(w, values.Load256(ve + c + 16, vs), o2); o3 = Vector256.FusedMultiplyAdd(w, values.Load256(ve + c + 24, vs), o3);
            }
            (o0 + d0).Store(acc + c); (o1 + d1).Store(acc + c + 8); (o2 + d2).Store(acc + c + 16); (o3 + d3).Store(acc + c + 24);
        }
        for (; c < hd; c += 8)
        {
            Vector256<float> o = Vector256.Load(acc + c), d = default;
            nint ve = at.Element, vs = at.Scale;
            int j = 0;
            for (; j + 2 <= bk; j += 2)
            {
                o = Vector256.FusedMultiplyAdd(Vector256.Create(p[j]), values.Load256(ve + c, vs), o);
                ve += at.ElementStep; vs += at.ScaleStep;
                d = Vector256.FusedMultiplyAdd(Vector256.Create(p[j + 1]), values.Load256(ve + c, vs), d);
                ve += at.ElementStep; vs += at.ScaleStep;
            }
            if (j < bk) o = Vector256.FusedMultiplyAdd(Vector256.Create(p[j]), values.Load256(ve + c, vs), o);
            (o + d).Store(acc + c);
        }
    }
}
