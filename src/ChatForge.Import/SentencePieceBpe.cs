using System.Text;

namespace ChatForge.Import;

/// <summary>
/// The BPE model of Hugging Face tokenizers as SentencePiece-style vocabularies use it (Llama-2, TinyLlama,
/// Mistral): within one pre-token, start from its characters (a character missing from the vocabulary
/// becomes its UTF-8 bytes as &lt;0xNN&gt; tokens with byte_fallback, else the unknown token), then
/// repeatedly apply the merge of lowest rank, the leftmost on ties. Symbols form a linked list and candidate
/// merges a priority queue, so a long prompt (with no pre-tokenizer the whole text is one pre-token) costs
/// O(n log n), not O(n²); a queued candidate that a neighbouring merge made stale is skipped when popped.
/// </summary>
internal sealed class SentencePieceBpe
{
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocab;
    readonly Dictionary<(int Left, int Right), (int Rank, int Merged)> _merges;
    readonly int[]? _byteIds;
    readonly int _unk;
    readonly bool _fuseUnk;

    /// <param name="vocab">Piece → id, without added tokens (user text never produces those).</param>
    /// <param name="merges">(left id, right id) → (rank, merged id); a tuple key, whose hash mixes both ids (a long's would fold them into left ^ right).</param>
    /// <param name="byteIds">Id of &lt;0xNN&gt; for each byte, or null without byte_fallback.</param>
    /// <param name="unk">Unknown-token id, or -1 (then byteIds must cover every byte).</param>
    public SentencePieceBpe(Dictionary<string, int> vocab, Dictionary<(int Left, int Right), (int Rank, int Merged)> merges, int[]? byteIds, int unk, bool fuseUnk)
    {
        _vocab = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        _byteIds = byteIds;
        _unk = unk;
        _fuseUnk = fuseUnk;
    }

    /// <summary>Appends the ids of one pre-token.</summary>
    public void Encode(ReadOnlySpan<char> word, List<int> ids)
    {
        var symbols = new List<int>(word.Length);
        Span<byte> utf8 = stackalloc byte[4];
        bool lastWasUnk = false;
        for (int i = 0; i < word.Length;)
        {
            int width = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            var character = word.Slice(i, width);
            i += width;
            if (_vocab.TryGetValue(character, out int id)) { symbols.Add(id); lastWasUnk = false; continue; }
            if (_byteIds is not null)
            {
                int n = Encoding.UTF8.GetBytes(character, utf8);
                for (int b = 0; b < n; b++) symbols.Add(_byteIds[utf8[b]]);
                lastWasUnk = false;
                continue;
            }
            if (!(_fuseUnk && lastWasUnk)) symbols.Add(_unk);
            lastWasUnk = true;
        }
        Merge(symbols);
        ids.AddRange(symbols);
    }

    /// <summary>Applies merges in rank order (leftmost first among equal ranks) until none applies; compacts <paramref name="symbols"/> in place.</summary>
    void Merge(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2) return;
        var next = new int[n];
        var prev = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; alive[i] = true; }
        var queue = new PriorityQueue<(int Pos, int Merged), (int Rank, int Pos)>();
        void Candidate(int pos)
        {
            int right = next[pos];
            if (right >= 0 && _merges.TryGetValue((symbols[pos], symbols[right]), out var m)) queue.Enqueue((pos, m.Merged), (m.Rank, pos));
        }
        for (int i = 0; i + 1 < n; i++) Candidate(i);

        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos, right = next[pos];
            // Stale: this symbol or its right neighbour changed since the candidate was queued.
            if (!alive[pos] || right < 0) continue;
            if (!_merges.TryGetValue((symbols[pos], symbols[right]), out var m) || m.Merged != top.Merged) continue;
            symbols[pos] = m.Merged;
            alive[right] = false;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0) Candidate(prev[pos]);
            Candidate(pos);
        }
        int write = 0;
        for (int i = 0; i < n; i++) if (alive[i]) symbols[write++] = symbols[i];
        symbols.RemoveRange(write, n - write);
    }
}
