namespace ChatForge.Engine.Kernels;

/// <summary>
/// A bf16 weight W [rows×cols] (a Linear layer's [out×in]) stored for y = x·Wᵀ in column panels: each panel holds
/// <see cref="PanelWidth"/> output rows, and for every pair of inputs (2q, 2q+1) their 16 weight pairs side by side,
/// as 32 ushorts: [w(r0,2q), w(r0,2q+1), w(r1,2q), w(r1,2q+1), …]. Read as 16 uints, (u &lt;&lt; 16) is the panel's
/// weights for input 2q as float32 and (u &amp; 0xFFFF0000) those for input 2q+1, so a decode step widens each weight
/// once and multiplies it with every x row by broadcasting x (<see cref="GemvBf16"/>): no horizontal sums, one
/// sequential stream per thread. Rows past the last panel's end and the odd input past an odd cols are zero.
/// </summary>
public sealed class Bf16Matrix
{
    public const int PanelWidth = 16;

    /// <summary>The ushorts of one panel's input pair: PanelWidth weight pairs.</summary>
    internal const int PairStride = 2 * PanelWidth;

    internal readonly ushort[] Data;

    public int Rows { get; }
    public int Cols { get; }
    public int Panels { get; }
    /// <summary>Input pairs per panel: ⌈cols / 2⌉.</summary>
    public int Pairs { get; }
    /// <summary>ushorts per panel.</summary>
    internal int PanelStride => Pairs * PairStride;
    public long Bytes => (long)Data.Length * sizeof(ushort);

    Bf16Matrix(int rows, int cols)
    {
        if (rows < 0 || cols < 0) throw new ArgumentException($"A bf16 matrix needs non-negative dimensions, got [{rows}×{cols}].");
        Rows = rows; Cols = cols;
        Panels = (rows + PanelWidth - 1) / PanelWidth;
        Pairs = (cols + 1) / 2;
        Data = GC.AllocateArray<ushort>(checked(Panels * Pairs * PairStride), pinned: true);
    }

    /// <summary>Rounds row-major float weights [rows×cols] to bf16 (nearest even) in panel order.</summary>
    public static Bf16Matrix FromFloat(ReadOnlySpan<float> weights, int rows, int cols)
    {
        if (weights.Length < (long)rows * cols)
            throw new ArgumentException($"A [{rows}×{cols}] bf16 matrix needs {(long)rows * cols} weights, got {weights.Length}.");
        var matrix = new Bf16Matrix(rows, cols);
        // Written in storage order (a 7B model is billions of weights): panel, input pair, row, even/odd input.
        var data = matrix.Data;
        int at = 0;
        for (int row0 = 0; row0 < rows; row0 += PanelWidth)
            for (int col = 0; col < cols; col += 2)
                for (int r = row0; r < row0 + PanelWidth; r++, at += 2)
                {
                    if (r >= rows) continue; // padding rows stay zero
                    var row = weights.Slice(r * cols, cols);
                    data[at] = Bf16.FromFloat(row[col]);
                    if (col + 1 < cols) data[at + 1] = Bf16.FromFloat(row[col + 1]);
                }
        return matrix;
    }

    /// <summary>Where weight (row, col) lives in <see cref="Data"/>.</summary>
    internal int Index(int row, int col) =>
        row / PanelWidth * PanelStride + (col >> 1) * PairStride + row % PanelWidth * 2 + (col & 1);

    public float this[int row, int col]
    {
        get
        {
            if ((uint)row >= (uint)Rows || (uint)col >= (uint)Cols)
                throw new ArgumentOutOfRangeException(nameof(row), $"({row}, {col}) lies outside [{Rows}×{Cols}].");
            return Bf16.ToFloat(Data[Index(row, col)]);
        }
    }
}
