using System.Buffers.Binary;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Inference;

/// <summary>
/// A weight W [out, in] in ggml's Q8_0 format: blocks of 32 int8 weights, each with its own scale (absmax / 127,
/// rounded to fp16 as ggml stores it). Each block pair is an int8 dot product (AVX2: |x|·sign(w, x) through
/// MultiplyAddAdjacent u8×s8 → s16, then s16 pairs → s32) scaled by d_w·d_x, reading 34 bytes per 32 weights
/// instead of 64 for bf16. Quantising the fp32 weights of a GGUF Q8_0 tensor gives back its blocks exactly (the
/// largest |q| of a block is 127, so absmax / 127 is the stored scale), so a Q8_0 file is served as it was quantised.
/// The blocks are kept split into int8 values and float scales so the vector loads stay aligned.
/// </summary>
public sealed unsafe class Q8_0Linear : BlockLinear
{
    public const int Block = 32;

    readonly sbyte[] _q;
    readonly float[] _scale;
    readonly sbyte* _pq;
    readonly float* _pscale;

    public override BlockFormat Format => BlockFormat.Q8_0;
    public override long Bytes => _q.LongLength + _scale.LongLength * sizeof(float);

    /// <summary>Quantises fp32 weights [out, in] the way ggml does.</summary>
    public Q8_0Linear(ReadOnlySpan<float> weight, int outDim, int inDim, string name = "weight")
        : this(GgmlQuantizer.Q8_0(Weights(weight, outDim, inDim, name)), outDim, inDim, name) { }

    /// <summary>From a GGUF Q8_0 tensor's raw bytes (fp16 scale + 32 int8 per block), ne[0] = <paramref name="inDim"/> (the row length).</summary>
    public Q8_0Linear(ReadOnlySpan<byte> blocks, int outDim, int inDim, string name = "weight") : base(name, outDim, inDim, Block, 34, blocks.Length)
    {
        _q = Pinned((long)outDim * inDim, out _pq);
        _scale = Pinned((long)outDim * inDim / Block, out _pscale);
        for (int b = 0; b < _scale.Length; b++)
        {
            var block = blocks.Slice(b * 34, 34);
            _scale[b] = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            for (int i = 0; i < Block; i++) _q[b * Block + i] = (sbyte)block[2 + i];
        }
    }

    protected override void UnpackGroup(long group, Span<sbyte> q, out float scaleLo, out float scaleHi, out float offset)
    {
        _q.AsSpan((int)(group * Block), Block).CopyTo(q);
        scaleLo = scaleHi = _scale[group];
        offset = 0;
    }

    protected override float DotAvx2(int row, sbyte* x, float* xs, float* xsum)
    {
        int blocks = GroupsPerRow;
        sbyte* w = _pq + (nint)row * In;
        float* ws = _pscale + (nint)row * blocks;
        var ones = Vector256.Create((short)1);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++)
        {
            var dots = DotSigned(Avx.LoadVector256(w + b * Block), x + b * Block, ones);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dots), Vector256.Create(ws[b] * xs[b]), acc);
        }
        return Vector256.Sum(acc);
    }
}
