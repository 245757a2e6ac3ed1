using System.Text;

namespace ChatForge.Data.Text;

/// <summary>
/// Hashing and randomness that never change between runs, machines or .NET versions, so the same item always
/// lands in the same split and gets the same template (string.GetHashCode is randomised per process).
/// </summary>
public static class StableHash
{
    public static ulong Fnv1a(string s)
    {
        ulong h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(s)) { h ^= b; h *= 1099511628211UL; }
        return Mix(h);
    }

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A number in [0, 1) fixed by the key and the purpose (salt).</summary>
    public static double Unit(string key, string salt) => (Fnv1a(salt + "\u0001" + key) >> 11) * (1.0 / (1UL << 53));
}

/// <summary>SplitMix64: a tiny deterministic generator seeded from a key.</summary>
public sealed class StableRandom(ulong seed)
{
    ulong _state = seed;
    public StableRandom(string key) : this(StableHash.Fnv1a(key)) { }

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public int Next(int maxExclusive) => (int)(NextUInt64() % (ulong)maxExclusive);
    public int Next(int min, int maxExclusive) => min + Next(maxExclusive - min);
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];
}

/// <summary>Which split an item belongs to, decided only by its key.</summary>
public static class Splits
{
    /// <summary>Documents: 1% validation.</summary>
    public static string Corpus(string documentKey) => StableHash.Unit(documentKey, "corpus") < 0.01 ? "val" : "train";

    /// <summary>Facts (a word, a country, a poem line) held out from SFT and rankings for evaluation: 4%.</summary>
    public static bool IsHeldOut(string factKey) => StableHash.Unit(factKey, "heldout") < 0.04;

    /// <summary>SFT / ranking items: 2% validation.</summary>
    public static string Dialogue(string itemKey) => StableHash.Unit(itemKey, "sft") < 0.02 ? "val" : "train";
}
