using System.Buffers.Binary;
using System.Text;
using ChatForge.Import.Gguf;

namespace ChatForge.Import.Tests;

/// <summary>
/// Blocks built by packing known weights the way ggml-common.h lays them out, then dequantised: the
/// expected values come from the weights' definition (w = d·sc·q − dmin·m, …), not from the decoder.
/// </summary>
public sealed class GgufTests
{
    static void PutHalf(byte[] b, int at, float v) => BinaryPrimitives.WriteHalfLittleEndian(b.AsSpan(at), (Half)v);

    [Fact]
    public void Q8_0AndQ4_0Blocks()
    {
        var rng = new Random(1);
        var q8 = new byte[34];
        PutHalf(q8, 0, 0.25f);
        var q = Enumerable.Range(0, 32).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
        for (int i = 0; i < 32; i++) q8[2 + i] = (byte)q[i];
        var y = new float[32];
        GgufBlocks.Dequantize(GgmlType.Q8_0, q8, y);
        Assert.Equal(q.Select(v => 0.25f * v), y);

        var q4 = new byte[18];
        PutHalf(q4, 0, 0.5f);
        var n = Enumerable.Range(0, 32).Select(_ => rng.Next(16)).ToArray();
        for (int i = 0; i < 16; i++) q4[2 + i] = (byte)(n[i] | n[i + 16] << 4);
        GgufBlocks.Dequantize(GgmlType.Q4_0, q4, y);
        Assert.Equal(n.Select(v => 0.5f * (v - 8)), y);
    }

    [Fact]
    public void Q4_KBlock()
    {
        var rng = new Random(2);
        int[] sc = Enumerable.Range(0, 8).Select(_ => rng.Next(64)).ToArray(), m = Enumerable.Range(0, 8).Select(_ => rng.Next(64)).ToArray();
        int[] nib = Enumerable.Range(0, 256).Select(_ => rng.Next(16)).ToArray();
        var block = new byte[144];
        PutHalf(block, 0, 0.125f);
        PutHalf(block, 2, 0.0625f);
        for (int j = 0; j < 4; j++)
        {
            block[4 + j] = (byte)(sc[j] | (sc[j + 4] >> 4) << 6);
            block[4 + j + 4] = (byte)(m[j] | (m[j + 4] >> 4) << 6);
            block[4 + j + 8] = (byte)((sc[j + 4] & 0xF) | (m[j + 4] & 0xF) << 4);
        }
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++) block[16 + 32 * g + l] = (byte)(nib[64 * g + l] | nib[64 * g + 32 + l] << 4);
        var y = new float[256];
        GgufBlocks.Dequantize(GgmlType.Q4_K, block, y);
        for (int i = 0; i < 256; i++) Assert.Equal(0.125f * sc[i / 32] * nib[i] - 0.0625f * m[i / 32], y[i], 5);
    }

    [Fact]
    public void Q6_KBlock()
    {
        var rng = new Random(3);
        int[] q = Enumerable.Range(0, 256).Select(_ => rng.Next(64)).ToArray();
        sbyte[] scales = Enumerable.Range(0, 16).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
        var block = new byte[210];
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < 32; l++)
            {
                int a = q[128 * n + l], b = q[128 * n + l + 32], c = q[128 * n + l + 64], e = q[128 * n + l + 96];
                block[64 * n + l] = (byte)((a & 0xF) | (c & 0xF) << 4);
                block[64 * n + l + 32] = (byte)((b & 0xF) | (e & 0xF) << 4);
                block[128 + 32 * n + l] = (byte)((a >> 4) | (b >> 4) << 2 | (c >> 4) << 4 | (e >> 4) << 6);
            }
        for (int i = 0; i < 16; i++) block[192 + i] = (byte)scales[i];
        PutHalf(block, 208, 0.01f);
        var y = new float[256];
        GgufBlocks.Dequantize(GgmlType.Q6_K, block, y);
        float d = (float)(Half)0.01f;
        for (int i = 0; i < 256; i++) Assert.Equal(d * scales[i / 16] * (q[i] - 32), y[i], 5);
    }

    /// <summary>A GGUF v3 file: metadata of several types and one Q8_0 tensor [64] after 32-byte alignment.</summary>
    static byte[] TinyGguf(out float[] expected)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        void Str(string s) { var b = Encoding.UTF8.GetBytes(s); w.Write((ulong)b.Length); w.Write(b); }
        w.Write(0x46554747u); w.Write(3u); w.Write(1ul); w.Write(3ul);
        Str("general.architecture"); w.Write(8u); Str("llama");
        Str("llama.context_length"); w.Write(4u); w.Write(64u);
        Str("tokenizer.ggml.tokens"); w.Write(9u); w.Write(8u); w.Write(2ul); Str("a"); Str("b");
        Str("blk.0.ffn_up.weight"); w.Write(1u); w.Write(64ul); w.Write((uint)GgmlType.Q8_0); w.Write(0ul);
        while (ms.Length % 32 != 0) w.Write((byte)0);
        expected = new float[64];
        for (int b = 0; b < 2; b++)
        {
            w.Write((Half)0.5f);
            for (int i = 0; i < 32; i++) { sbyte v = (sbyte)(i - 16 + b); w.Write(v); expected[32 * b + i] = 0.5f * v; }
        }
        w.Flush();
        return ms.ToArray();
    }

    [Fact]
    public void ReadsHeaderMetadataAndTensors()
    {
        using var dir = new TempDir();
        string path = dir.Sub("tiny.gguf");
        File.WriteAllBytes(path, TinyGguf(out var expected));
        using var file = GgufFile.Open(path);
        Assert.Equal(3u, file.Version);
        Assert.Equal("llama", file.Metadata["general.architecture"]);
        Assert.Equal(64u, file.Metadata["llama.context_length"]);
        Assert.Equal(new object[] { "a", "b" }, (object[])file.Metadata["tokenizer.ggml.tokens"]);
        var info = file.Tensors["blk.0.ffn_up.weight"];
        Assert.Equal(GgmlType.Q8_0, info.Type);
        var y = new float[64];
        file.ReadAsFloat32(info, y);
        Assert.Equal(expected, y);
    }

    [Fact]
    public void TruncatedAndUnsupportedFilesAreRefused()
    {
        using var dir = new TempDir();
        string path = dir.Sub("tiny.gguf");
        var bytes = TinyGguf(out _);
        File.WriteAllBytes(path, bytes[..^10]);
        var e = Assert.Throws<InvalidDataException>(() => GgufFile.Open(path));
        Assert.Contains("blk.0.ffn_up.weight", e.Message);
        File.WriteAllBytes(path, bytes[..40]);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => GgufFile.Open(path)).Message);
        var q5 = (byte[])bytes.Clone();
        int typeAt = Encoding.UTF8.GetBytes("blk.0.ffn_up.weight").Length + IndexOf(bytes, "blk.0.ffn_up.weight") + 4 + 8;
        BinaryPrimitives.WriteUInt32LittleEndian(q5.AsSpan(typeAt), 6); // Q5_0
        File.WriteAllBytes(path, q5);
        var u = Assert.Throws<NotSupportedException>(() => GgufFile.Open(path));
        Assert.Contains("type 6", u.Message);
        Assert.Contains("Q4_K", u.Message);
    }

    static int IndexOf(byte[] haystack, string needle)
    {
        var n = Encoding.UTF8.GetBytes(needle);
        for (int i = 0; i + n.Length <= haystack.Length; i++) if (haystack.AsSpan(i, n.Length).SequenceEqual(n)) return i;
        return -1;
    }
}

/// <summary>The tokenizer fixture stored as GGUF tokenizer metadata gives the reference ids.</summary>
public sealed class GgufTokenizerTests
{
    [Fact]
    public void GgufTokenizerMetadataEncodesLikeTheReference()
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixture.Folder("tokenizer"), "tokenizer.json")));
        var root = doc.RootElement;
        var tokens = new string[339];
        var types = new int[339];
        foreach (var v in root.GetProperty("model").GetProperty("vocab").EnumerateObject()) { tokens[v.Value.GetInt32()] = v.Name; types[v.Value.GetInt32()] = 1; }
        foreach (var a in root.GetProperty("added_tokens").EnumerateArray()) { tokens[a.GetProperty("id").GetInt32()] = a.GetProperty("content").GetString()!; types[a.GetProperty("id").GetInt32()] = 3; }
        var merges = root.GetProperty("model").GetProperty("merges").EnumerateArray().Select(m => m.GetString()!).ToArray();

        using var dir = new TempDir();
        string path = dir.Sub("tok.gguf");
        using (var w = new BinaryWriter(File.Create(path)))
        {
            void Str(string s) { var b = Encoding.UTF8.GetBytes(s); w.Write((ulong)b.Length); w.Write(b); }
            w.Write(0x46554747u); w.Write(3u); w.Write(0ul); w.Write(6ul);
            Str("tokenizer.ggml.model"); w.Write(8u); Str("gpt2");
            Str("tokenizer.ggml.pre"); w.Write(8u); Str("qwen2");
            Str("tokenizer.ggml.tokens"); w.Write(9u); w.Write(8u); w.Write((ulong)tokens.Length); foreach (var t in tokens) Str(t);
            Str("tokenizer.ggml.token_type"); w.Write(9u); w.Write(5u); w.Write((ulong)types.Length); foreach (var t in types) w.Write(t);
            Str("tokenizer.ggml.merges"); w.Write(9u); w.Write(8u); w.Write((ulong)merges.Length); foreach (var m in merges) Str(m);
            Str("tokenizer.chat_template"); w.Write(8u); Str("{{'<|im_start|>' + message['role']}}");
        }
        using (var file = GgufFile.Open(path)) GgufTokenizer.Write(file, dir.Sub("out"));
        var tokenizer = HfTokenizer.Load(dir.Sub("out"));
        using var expected = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixture.Folder("tokenizer"), "expected.json")));
        string text = expected.RootElement.GetProperty("text").GetString()!;
        // The fixture's NFC normaliser is not part of GGUF metadata; the test text is already NFC.
        Assert.Equal(expected.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()), tokenizer.Encode(text));
        Assert.Equal("chatml", tokenizer.TemplateName);
    }
}
