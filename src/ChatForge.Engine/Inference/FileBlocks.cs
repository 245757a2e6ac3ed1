namespace ChatForge.Engine.Inference;

/// <summary>Rows [RowOffset, RowOffset + Rows) of one of our weight slots, as a model file stored them: <paramref name="Tensor"/>'s blocks.</summary>
public sealed record BlockRows(string Tensor, int RowOffset, int Rows, BlockFormat Format, byte[] Blocks);

/// <summary>
/// The quantised matrices of a model file (GGUF), by our slot name, kept so <see cref="WeightFormat.Gguf"/> serves
/// each matrix in the file's own quantisation. One slot may come from several tensors (attn_q/k/v into qkv,
/// ffn_gate/up into up), possibly of different formats, as Q4_K_M files mix Q4_K and Q6_K.
/// </summary>
public sealed class FileBlocks
{
    readonly Dictionary<string, List<BlockRows>> _slots = new(StringComparer.Ordinal);

    public void Add(string slot, BlockRows rows)
    {
        if (!_slots.TryGetValue(slot, out var list)) _slots[slot] = list = [];
        list.Add(rows);
    }

    /// <summary>The slot's quantised row ranges in row order (empty when the file stored it unquantised).</summary>
    public IReadOnlyList<BlockRows> Parts(string slot) =>
        _slots.TryGetValue(slot, out var list) ? list.OrderBy(p => p.RowOffset).ToList() : [];

    public IEnumerable<string> Slots => _slots.Keys;
}
