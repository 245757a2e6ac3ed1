namespace ChatForge.Engine.Training;

public enum BatchOrder
{
    /// <summary>Each row is a window of T+1 tokens starting at a uniformly random position over all shards (training).</summary>
    Random,
    /// <summary>Non-overlapping windows in file order, wrapping at the end (validation: the same windows every time).</summary>
    Sequential,
}

/// <summary>
/// Cuts (inputs, targets) batches of [batch, T] out of one or more token shards; targets are the inputs
/// shifted by one token. Windows may cross document boundaries (the &lt;|endoftext|&gt; separators are in the data),
/// as in GPT-2 pretraining.
///
/// Resume is exact by construction: the whole state is <see cref="RngState"/> (one ulong of SplitMix64, which
/// picks the random windows) and <see cref="Position"/> (windows handed out so far; the next window for
/// sequential order). A checkpoint stores both (TrainerState.RngState / DataPosition) and
/// <see cref="Restore"/> puts a fresh batcher over the same shards in the same place.
/// </summary>
public sealed class TokenBatcher
{
    readonly TokenShard[] _shards;
    readonly long[] _windowStarts;   // random order: cumulative count of valid window starts per shard
    readonly long[] _windowsPerShard; // sequential order: non-overlapping windows per shard
    readonly int _t;
    SplitMix64 _rng;

    public BatchOrder Order { get; }
    public int SequenceLength => _t;
    public long Position { get; private set; }
    public ulong RngState => _rng.State;
    /// <summary>Tokens in all shards.</summary>
    public long TotalTokens { get; }
    /// <summary>Sequential order: how many distinct windows one pass yields.</summary>
    public long SequentialWindows { get; }

    public TokenBatcher(IReadOnlyList<TokenShard> shards, int sequenceLength, BatchOrder order, ulong seed)
    {
        if (shards.Count == 0) throw new ArgumentException("No token shards given.", nameof(shards));
        if (sequenceLength <= 0) throw new ArgumentOutOfRangeException(nameof(sequenceLength), sequenceLength, "Sequence length must be positive.");
        _shards = shards.ToArray();
        _t = sequenceLength;
        Order = order;
        _rng = new SplitMix64(seed);
        _windowStarts = new long[_shards.Length + 1];
        _windowsPerShard = new long[_shards.Length];
        for (int i = 0; i < _shards.Length; i++)
        {
            long count = _shards[i].Count;
            TotalTokens += count;
            _windowStarts[i + 1] = _windowStarts[i] + Math.Max(0, count - sequenceLength);
            _windowsPerShard[i] = Math.Max(0, (count - 1) / sequenceLength);
            SequentialWindows += _windowsPerShard[i];
        }
        if (_windowStarts[^1] == 0)
            throw new InvalidDataException(
                $"No shard holds a full window of {sequenceLength + 1} tokens (sequence length + 1): " +
                string.Join(", ", _shards.Select(s => $"{s.Path} ({s.Count} tokens)")) + ".");
    }

    /// <summary>Continues from a saved state (see the class comment).</summary>
    public void Restore(ulong rngState, long position)
    {
        if (position < 0) throw new ArgumentOutOfRangeException(nameof(position), position, "Data position must be >= 0.");
        _rng.State = rngState;
        Position = position;
    }

    /// <summary>Fills inputs and targets ([batch, T] row-major, batch = inputs.Length / T).</summary>
    public void Next(Span<int> inputs, Span<int> targets)
    {
        if (inputs.Length != targets.Length || inputs.Length % _t != 0)
            throw new ArgumentException($"Batch buffers must both be [batch, {_t}]: inputs hold {inputs.Length}, targets {targets.Length}.");
        int batch = inputs.Length / _t;
        Span<int> window = _t + 1 <= 4096 ? stackalloc int[_t + 1] : new int[_t + 1];
        for (int b = 0; b < batch; b++)
        {
            var (shard, start) = Order == BatchOrder.Random ? RandomWindow() : SequentialWindow(Position);
            _shards[shard].Read(start, window);
            window[.._t].CopyTo(inputs.Slice(b * _t, _t));
            window[1..].CopyTo(targets.Slice(b * _t, _t));
            Position++;
        }
    }

    (int Shard, long Start) RandomWindow()
    {
        long r = _rng.NextInt64(_windowStarts[^1]);
        int shard = Array.BinarySearch(_windowStarts, r);
        // BinarySearch returns the exact index or the complement of the next larger one; walk past empty shards.
        shard = shard >= 0 ? shard : ~shard - 1;
        while (_windowStarts[shard + 1] <= r) shard++;
        return (shard, r - _windowStarts[shard]);
    }

    (int Shard, long Start) SequentialWindow(long position)
    {
        long index = position % SequentialWindows;
        for (int i = 0; i < _shards.Length; i++)
        {
            if (index < _windowsPerShard[i]) return (i, index * _t);
            index -= _windowsPerShard[i];
        }
        throw new InvalidOperationException("unreachable: window index beyond the shards");
    }
}
