using System.Text.Json.Nodes;

namespace ChatForge.Training.Stages;

/// <summary>
/// Walks a dataset of N items in batches, reshuffling at each epoch with a seed derived from (seed, epoch),
/// so the order depends only on the position and a resumed run sees exactly the batches it would have.
/// </summary>
public sealed class EpochCursor
{
    readonly int _count, _batch;
    readonly ulong _seed;
    int[] _order = [];
    public int Epoch { get; private set; }
    public int Position { get; private set; }

    public EpochCursor(int count, int batch, ulong seed)
    {
        if (count <= 0) throw new ArgumentException("The dataset is empty.", nameof(count));
        if (batch <= 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, "Batch must be positive.");
        _count = count; _batch = Math.Min(batch, count); _seed = seed;
        Shuffle();
    }

    /// <summary>The next batch of item indices; a batch never straddles two epochs.</summary>
    public int[] Next() => Next(_batch);

    /// <summary>The next <paramref name="size"/> item indices (at most the batch size), never straddling two epochs.</summary>
    public int[] Next(int size)
    {
        if (size < 0 || size > _batch) throw new ArgumentOutOfRangeException(nameof(size), size, $"Take between 0 and the batch size ({_batch}) items.");
        if (Position + size > _count) { Epoch++; Position = 0; Shuffle(); }
        var batch = _order.AsSpan(Position, size).ToArray();
        Position += size;
        return batch;
    }

    public JsonObject Save() => new() { ["epoch"] = Epoch, ["position"] = Position };

    public void Restore(JsonObject? state)
    {
        if (state is null) return;
        Epoch = (int)state["epoch"]!;
        Position = (int)state["position"]!;
        Shuffle();
    }

    void Shuffle()
    {
        _order = Enumerable.Range(0, _count).ToArray();
        new Random(unchecked((int)(_seed * 0x9E3779B9UL) ^ Epoch * 7919)).Shuffle(_order);
    }
}
