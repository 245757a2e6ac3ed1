using System.Text;
using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;
using ChatForge.Import.Gguf;

namespace ChatForge.Import.Tests;

/// <summary>
/// The PyTorch reference checkpoints written as GGUF the way llama.cpp's converter does (llama.cpp names,
/// Q/K rows permuted to interleaved pairs for llama, not for qwen2; dims row length first), read back by
/// GgufImporter: same logits as PyTorch (fp32), within a stated bound for Q8_0 matmul weights.
/// </summary>
public sealed class GgufImportTests
{
    static void WriteGguf(string path, string arch, ParameterBuffer p, bool q8) =>
        WriteGguf(path, arch, p, (_, cols) => q8 && cols % 32 == 0 ? GgmlType.Q8_0 : GgmlType.F32);

    /// <summary>Writes <paramref name="p"/> as llama.cpp would; <paramref name="typeOf"/>(name, row length) picks each matrix's ggml type (vectors stay F32).</summary>
    internal static void WriteGguf(string path, string arch, ParameterBuffer p, Func<string, int, GgmlType> typeOf,
        int extraMetadataCount = 0, Action<BinaryWriter>? writeExtraMetadata = null)
    {
        var c = p.Layout.Config;
        int hd = c.HeadDim;
        var tensors = new List<(string Name, long[] Dims, GgmlType Type, byte[] Data)>();
        void Add(string name, ReadOnlySpan<float> values, int rows, int cols, int ropeHeads = 0)
        {
            var v = values.ToArray();
            if (ropeHeads > 0 && arch != "qwen2")
            {
                int width = Math.Max(cols, 1);
                var permuted = new float[v.Length];
                for (int h = 0; h < ropeHeads; h++)
                    for (int i = 0; i < hd / 2; i++)
                        for (int j = 0; j < 2; j++)
                            Array.Copy(v, (h * hd + j * hd / 2 + i) * width, permuted, (h * hd + 2 * i + j) * width, width);
                v = permuted;
            }
            var type = cols == 0 ? GgmlType.F32 : typeOf(name, cols);
            var data = type switch
            {
                GgmlType.F32 => v.SelectMany(BitConverter.GetBytes).ToArray(),
                GgmlType.F16 => v.SelectMany(x => BitConverter.GetBytes((Half)x)).ToArray(),
                GgmlType.Q8_0 => Q8(v),
                _ => GgmlQuantizer.Quantize(GgufImporter.BlockFormatOf(type)!.Value, v),
            };
            tensors.Add((name, cols == 0 ? [rows] : [cols, rows], type, data));
        }
        int d = c.HiddenSize, q = c.NumHeads * hd, kv = c.NumKvHeads * hd, ff = c.IntermediateSize;
        Add("token_embd.weight", p[p.Layout.TokenEmbedding], c.VocabSize, d);
        for (int i = 0; i < c.NumLayers; i++)
        {
            var l = p.Layout.Layers[i];
            string s = $"blk.{i}.";
            Add(s + "attn_norm.weight", p[l.AttnNormWeight], d, 0);
            Add(s + "attn_q.weight", p[l.QkvWeight][..(q * d)], q, d, c.NumHeads);
            Add(s + "attn_k.weight", p[l.QkvWeight].Slice(q * d, kv * d), kv, d, c.NumKvHeads);
            Add(s + "attn_v.weight", p[l.QkvWeight].Slice((q + kv) * d, kv * d), kv, d);
            if (l.QkvBias is { } b)
            {
                Add(s + "attn_q.bias", p[b][..q], q, 0, c.NumHeads);
                Add(s + "attn_k.bias", p[b].Slice(q, kv), kv, 0, c.NumKvHeads);
                Add(s + "attn_v.bias", p[b].Slice(q + kv, kv), kv, 0);
            }
            Add(s + "attn_output.weight", p[l.OutWeight], d, q);
            Add(s + "ffn_norm.weight", p[l.MlpNormWeight], d, 0);
            Add(s + "ffn_gate.weight", p[l.UpWeight][..(ff * d)], ff, d);
            Add(s + "ffn_up.weight", p[l.UpWeight].Slice(ff * d, ff * d), ff, d);
            Add(s + "ffn_down.weight", p[l.DownWeight], d, ff);
        }
        Add("output_norm.weight", p[p.Layout.FinalNormWeight], d, 0);
        if (!c.TieEmbeddings) Add("output.weight", p[p.Layout.LmHead], c.VocabSize, d);

        using var w = new BinaryWriter(File.Create(path));
        void Str(string text) { var bytes = Encoding.UTF8.GetBytes(text); w.Write((ulong)bytes.Length); w.Write(bytes); }
        var meta = new (string, uint, object)[]
        {
            ("general.architecture", 8, arch), ($"{arch}.context_length", 4, (uint)c.ContextLength), ($"{arch}.embedding_length", 4, (uint)d),
            ($"{arch}.block_count", 4, (uint)c.NumLayers), ($"{arch}.feed_forward_length", 4, (uint)ff), ($"{arch}.attention.head_count", 4, (uint)c.NumHeads),
            ($"{arch}.attention.head_count_kv", 4, (uint)c.NumKvHeads), ($"{arch}.attention.layer_norm_rms_epsilon", 6, c.NormEps), ($"{arch}.rope.freq_base", 6, c.RopeTheta),
        };
        w.Write(0x46554747u); w.Write(3u); w.Write((ulong)tensors.Count); w.Write((ulong)(meta.Length + extraMetadataCount));
        foreach (var (key, type, value) in meta)
        {
            Str(key); w.Write(type);
            if (value is string sv) Str(sv); else if (value is uint u) w.Write(u); else w.Write((float)value);
        }
        writeExtraMetadata?.Invoke(w);
        long offset = 0;
        foreach (var t in tensors)
        {
            Str(t.Name); w.Write((uint)t.Dims.Length);
            foreach (long dim in t.Dims) w.Write((ulong)dim);
            w.Write((uint)t.Type); w.Write((ulong)offset);
            offset += (t.Data.Length + 31) / 32 * 32;
        }
        w.Flush();
        while (w.BaseStream.Position % 32 != 0) w.Write((byte)0);
        foreach (var t in tensors)
        {
            w.Write(t.Data);
            for (int pad = t.Data.Length; pad % 32 != 0; pad++) w.Write((byte)0);
        }
    }

    static byte[] Q8(float[] v)
    {
        var bytes = new byte[v.Length / 32 * 34];
        for (int b = 0; b < v.Length / 32; b++)
        {
            float max = 0;
            for (int i = 0; i < 32; i++) max = MathF.Max(max, MathF.Abs(v[b * 32 + i]));
            var dh = (Half)(max / 127f);
            float d = (float)dh;
            BitConverter.TryWriteBytes(bytes.AsSpan(b * 34), dh);
            for (int i = 0; i < 32; i++) bytes[b * 34 + 2 + i] = (byte)(sbyte)Math.Clamp(MathF.Round(d > 0 ? v[b * 32 + i] / d : 0), -127, 127);
        }
        return bytes;
    }

    [Theory]
    [InlineData("llama", "llama", false, 1e-4f)]
    [InlineData("qwen2", "qwen2", false, 1e-4f)]
    [InlineData("mistral", "mistral", false, 1e-4f)]
    [InlineData("llama", "llama", true, 0.03f)]
    [InlineData("qwen2", "qwen2", true, 0.03f)]
    public void GgufGivesTheReferenceLogits(string fixture, string arch, bool q8, float bound)
    {
        using var dir = new TempDir();
        string path = dir.Sub("model.gguf");
        WriteGguf(path, arch, HfImporter.Load(Fixture.Folder(fixture)).Parameters, q8);
        var parameters = GgufImporter.Load(path);
        var (tokens, expected) = Fixture.Expected(fixture);
        var logits = Fixture.Logits(parameters, tokens, WeightFormat.F32);
        float error = Fixture.MaxAbsDiff(logits, expected) / (q8 ? Fixture.MaxAbs(expected) : 1f);
        Assert.True(error < bound, $"{fixture} q8={q8}: {error}");
    }

    [Fact]
    public void UnsupportedGgufArchitectureIsNamed()
    {
        using var dir = new TempDir();
        string path = dir.Sub("model.gguf");
        WriteGguf(path, "phi3", HfImporter.Load(Fixture.Folder("llama")).Parameters, false);
        var e = Assert.Throws<NotSupportedException>(() => GgufImporter.Load(path));
        Assert.Contains("phi3", e.Message);
        Assert.Contains("qwen2", e.Message);
    }
}
