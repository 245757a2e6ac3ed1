using System.Runtime.InteropServices;
using System.Text;

namespace ChatForge.Tokenizer;

/// <summary>
/// Second phase of BPE training: repeatedly merge the most frequent adjacent pair of symbols.
/// Works on the distinct chunks (each with its count), never on the corpus. Pair counts are kept up to
/// date incrementally: merging (a, b) in a chunk only changes the pairs touching that spot, so each merge
/// costs time proportional to the chunks that contain (a, b). Those chunks are found through
/// <see cref="_where"/> (pair → chunk indices, append-only, may hold stale entries that simply find
/// nothing to merge). The most frequent pair comes from a priority queue with lazy deletion: an entry
/// whose count is out of date is re-queued with the current count when it reaches the top.
/// Ties are broken by the smaller (left, right) id pair, so training is deterministic.
/// </summary>
internal sealed class BpeMerger
{
    private readonly int[] _symbols;   // all chunks' symbol ids, back to back
    private readonly int[] _start;     // chunk w's symbols start at _symbols[_start[w]]
    private readonly int[] _length;    // ... and are _length[w] long (shrinks as merges apply)
    private readonly long[] _count;    // how often chunk w occurs in the corpus
    private readonly int[] _stamp;     // last merge step that visited chunk w (skips duplicate entries)

    // Pair keys are (left << 32) | right. long's own hash (high ^ low half) would put every pair with
    // the same left ^ right in one bucket, which made training ~50x slower; PairKeyComparer mixes the bits.
    private readonly Dictionary<long, long> _pairCounts = new(PairKeyComparer.Instance);
    private readonly Dictionary<long, List<int>> _where = new(PairKeyComparer.Instance);
    private readonly PriorityQueue<long, (long Count, long Pair)> _queue = new(ByCountThenPair.Instance);
    private readonly HashSet<long> _raised = new(PairKeyComparer.Instance);
    private readonly HashSet<long> _lowered = new(PairKeyComparer.Instance);

    private readonly List<byte[]> _tokens = new();
    private readonly Dictionary<string, int> _idOfBytes = new(StringComparer.Ordinal); // key: bytes as Latin-1

    public BpeMerger(IReadOnlyCollection<KeyValuePair<string, long>> chunks)
    {
        for (int b = 0; b < 256; b++)
        {
            _tokens.Add([(byte)b]);
            _idOfBytes.Add(((char)b).ToString(), b);
        }

        long totalBytes = 0;
        foreach (var (chunk, _) in chunks) totalBytes += Encoding.UTF8.GetByteCount(chunk);
        if (totalBytes > Array.MaxLength) throw new InvalidOperationException($"The distinct chunks hold {totalBytes} bytes, more than one array can; train on less text.");

        _symbols = new int[totalBytes];
        _start = new int[chunks.Count];
        _length = new int[chunks.Count];
        _count = new long[chunks.Count];
        _stamp = new int[chunks.Count];

        int w = 0, at = 0;
        byte[] utf8 = new byte[256];
        foreach (var (chunk, n) in chunks)
        {
            int len = Encoding.UTF8.GetByteCount(chunk);
            if (utf8.Length < len) utf8 = new byte[Math.Max(len, utf8.Length * 2)];
            Encoding.UTF8.GetBytes(chunk, utf8);
            for (int i = 0; i < len; i++) _symbols[at + i] = utf8[i];
            _start[w] = at; _length[w] = len; _count[w] = n;
            for (int i = 0; i + 1 < len; i++) AddToPair(utf8[i], utf8[i + 1], n, w);
            at += len; w++;
        }

        foreach (var (pair, count) in _pairCounts) _queue.Enqueue(pair, (count, pair));
        _raised.Clear();
    }

    /// <summary>Token bytes by rank: the 256 single bytes, then one entry per merge that made new bytes.</summary>
    public IReadOnlyList<byte[]> Tokens => _tokens;

    /// <summary>Merges until there are <paramref name="targetTokens"/> tokens or no pair occurs <paramref name="minFrequency"/> times.</summary>
    public List<(int Left, int Right, int Result)> Run(int targetTokens, long minFrequency, Action<int>? onMerge, CancellationToken cancellationToken)
    {
        var merges = new List<(int, int, int)>();
        int step = 0;
        while (_tokens.Count < targetTokens && _queue.TryDequeue(out long pair, out var queued))
        {
            _pairCounts.TryGetValue(pair, out long count);
            if (count != queued.Count)
            {
                // Out of date. A higher current count has its own newer entry; a lower one is queued now.
                if (count > 0 && count < queued.Count) _queue.Enqueue(pair, (count, pair));
                continue;
            }
            if (count < minFrequency) break;
            if ((++step & 255) == 0) cancellationToken.ThrowIfCancellationRequested();

            int left = (int)(pair >> 32), right = (int)(uint)pair;
            int merged = IdOf(Concat(_tokens[left], _tokens[right]));
            merges.Add((left, right, merged));

            List<int> chunks = _where[pair];
            for (int k = 0; k < chunks.Count; k++)
            {
                int w = chunks[k];
                if (_stamp[w] == step) continue;
                _stamp[w] = step;
                MergeInChunk(w, left, right, merged);
            }
            _pairCounts.Remove(pair);
            _where.Remove(pair);
            Settle();
            onMerge?.Invoke(merges.Count);
        }
        return merges;
    }

    /// <summary>Replaces every (left, right) in chunk w by merged, left to right, updating the neighbouring pairs' counts.</summary>
    private void MergeInChunk(int w, int left, int right, int merged)
    {
        Span<int> s = _symbols.AsSpan(_start[w], _length[w]);
        long n = _count[w];
        int read = 0, write = 0;
        while (read < s.Length)
        {
            if (read + 1 < s.Length && s[read] == left && s[read + 1] == right)
            {
                // s[write - 1] is the already rewritten neighbour (possibly a merge made a moment ago),
                // which is what makes "a b a b" come out right: the pair (ab, a) added below is taken
                // back here when the second (a, b) merges.
                if (write > 0)
                {
                    AddToPair(s[write - 1], left, -n, w);
                    AddToPair(s[write - 1], merged, n, w);
                }
                if (read + 2 < s.Length)
                {
                    AddToPair(right, s[read + 2], -n, w);
                    AddToPair(merged, s[read + 2], n, w);
                }
                s[write++] = merged;
                read += 2;
            }
            else
            {
                s[write++] = s[read++];
            }
        }
        _length[w] = write;
    }

    private void AddToPair(int left, int right, long delta, int w)
    {
        long key = ((long)left << 32) | (uint)right;
        CollectionsMarshal.GetValueRefOrAddDefault(_pairCounts, key, out _) += delta;
        if (delta < 0) { _lowered.Add(key); return; }
        _raised.Add(key);
        ref List<int>? list = ref CollectionsMarshal.GetValueRefOrAddDefault(_where, key, out _);
        list ??= new List<int>(4);
        if (list.Count == 0 || list[^1] != w) list.Add(w);
    }

    /// <summary>After a merge: forget pairs that no longer occur, queue pairs whose count went up.</summary>
    private void Settle()
    {
        foreach (long key in _lowered)
        {
            if (_pairCounts.TryGetValue(key, out long c) && c == 0) { _pairCounts.Remove(key); _where.Remove(key); }
        }
        foreach (long key in _raised)
        {
            if (!_pairCounts.TryGetValue(key, out long c)) continue;
            if (c > 0) _queue.Enqueue(key, (c, key));
            else { _pairCounts.Remove(key); _where.Remove(key); }
        }
        _lowered.Clear();
        _raised.Clear();
    }

    /// <summary>Id of a byte string, adding it as the next rank if new (two merges can spell the same bytes).</summary>
    private int IdOf(byte[] bytes)
    {
        string key = Encoding.Latin1.GetString(bytes);
        if (_idOfBytes.TryGetValue(key, out int id)) return id;
        id = _tokens.Count;
        _tokens.Add(bytes);
        _idOfBytes.Add(key, id);
        return id;
    }

    private static byte[] Concat(byte[] a, byte[] b)
    {
        var r = new byte[a.Length + b.Length];
        a.CopyTo(r, 0);
        b.CopyTo(r, a.Length);
        return r;
    }

    /// <summary>Most frequent first; among equal counts the smaller (left, right) pair.</summary>
    private sealed class ByCountThenPair : IComparer<(long Count, long Pair)>
    {
        public static readonly ByCountThenPair Instance = new();
        public int Compare((long Count, long Pair) x, (long Count, long Pair) y)
        {
            int c = y.Count.CompareTo(x.Count);
            return c != 0 ? c : x.Pair.CompareTo(y.Pair);
        }
    }

    /// <summary>Fibonacci hashing of the 64-bit pair key: the top 32 bits of key × 2^64/φ depend on every input bit.</summary>
    private sealed class PairKeyComparer : IEqualityComparer<long>
    {
        public static readonly PairKeyComparer Instance = new();
        public bool Equals(long x, long y) => x == y;
        public int GetHashCode(long key) => (int)((ulong)key * 0x9E3779B97F4A7C15UL >> 32);
    }
}
