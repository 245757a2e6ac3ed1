using System.Buffers.Binary;
using System.Text.Json.Nodes;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Tests.Checkpoints;

public class CheckpointTests
{
    static readonly ModelConfig Tiny = ModelConfig.Gpt2Style(vocab: 50, dModel: 16, layers: 2, heads: 2, context: 12);
    static readonly ModelConfig TinyLlama = ModelConfig.LlamaStyle(vocab: 40, dModel: 16, layers: 1, heads: 4, kvHeads: 2, intermediate: 24, context: 8);

    static ParameterBuffer Random(ModelConfig config, int seed)
    {
        var buffer = new ParameterBuffer(new ParameterLayout(config));
        var rng = new Random(seed);
        foreach (var t in buffer.Layout.Tensors)
        {
            var span = buffer[t];
            for (int i = 0; i < span.Length; i++) span[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        return buffer;
    }

    static void AssertSameTensors(ParameterBuffer expected, ParameterBuffer actual, float tolerance)
    {
        foreach (var t in expected.Layout.Tensors)
        {
            var a = expected[t]; var b = actual[t];
            for (int i = 0; i < a.Length; i++)
                Assert.True(Math.Abs(a[i] - b[i]) <= tolerance * Math.Max(1, Math.Abs(a[i])), $"{t.Name}[{i}]: {a[i]} vs {b[i]}");
        }
    }

    [Fact]
    public void Float32_round_trip_is_exact_for_tied_and_untied_models()
    {
        using var dir = new TempDir();
        foreach (var config in new[] { Tiny, TinyLlama })
        {
            var original = Random(config, 1);
            string path = dir.File(config.Norm.ToString());
            Checkpoint.Save(path, original);
            var loaded = Checkpoint.LoadParameters(path);
            Assert.Equal(config, loaded.Layout.Config);
            AssertSameTensors(original, loaded, 0f);
        }
    }

    [Fact]
    public void Bf16_round_trip_stays_within_bf16_rounding()
    {
        using var dir = new TempDir();
        var original = Random(Tiny, 2);
        Checkpoint.Save(dir.File("bf16"), original, TensorDType.BF16);
        var loaded = Checkpoint.LoadParameters(dir.File("bf16"));
        AssertSameTensors(original, loaded, 1f / 256); // 8 mantissa bits: relative error ≤ 2^-9
        Checkpoint.Save(dir.File("f32"), original);
        long bf16Bytes = new FileInfo(Path.Combine(dir.File("bf16"), Checkpoint.ModelFile)).Length;
        long f32Bytes = new FileInfo(Path.Combine(dir.File("f32"), Checkpoint.ModelFile)).Length;
        Assert.True(bf16Bytes < 0.6 * f32Bytes, $"bf16 file {bf16Bytes} bytes vs fp32 {f32Bytes}");
    }

    [Fact]
    public void Optimizer_moments_and_trainer_state_round_trip()
    {
        using var dir = new TempDir();
        var p = Random(Tiny, 3);
        var state = new TrainerState { Step = 42, DataPosition = 123456789012, RngState = ulong.MaxValue - 5, LearningRate = 3e-4f, Stage = "sft", Extra = new JsonObject { ["epoch"] = 2 } };
        var optimizer = new OptimizerState(Random(Tiny, 4), Random(Tiny, 5));
        Checkpoint.Save(dir.File("ck"), p, TensorDType.F32, optimizer, state);

        var (loadedOptimizer, loadedState) = Checkpoint.LoadTraining(dir.File("ck"), p.Layout);
        AssertSameTensors(optimizer.M, loadedOptimizer.M, 0);
        AssertSameTensors(optimizer.V, loadedOptimizer.V, 0);
        Assert.Equal(42, loadedState.Step);
        Assert.Equal(123456789012, loadedState.DataPosition);
        Assert.Equal(ulong.MaxValue - 5, loadedState.RngState);
        Assert.Equal("sft", loadedState.Stage);
        Assert.Equal(2, (int)loadedState.Extra!["epoch"]!);
    }

    [Fact]
    public void Saving_over_a_checkpoint_replaces_it_and_leaves_no_temp_folders()
    {
        using var dir = new TempDir();
        Checkpoint.Save(dir.File("ck"), Random(Tiny, 6));
        var second = Random(Tiny, 7);
        Checkpoint.Save(dir.File("ck"), second);
        AssertSameTensors(second, Checkpoint.LoadParameters(dir.File("ck")), 0);
        Assert.Equal(new[] { "ck" }, Directory.GetDirectories(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void FindLatest_takes_the_highest_complete_step_and_prune_keeps_the_newest()
    {
        using var dir = new TempDir();
        Assert.Null(Checkpoint.FindLatest(dir.File("none")));
        var p = Random(Tiny, 8);
        foreach (long step in new long[] { 5, 100, 20 }) Checkpoint.Save(Checkpoint.StepDirectory(dir.Path, step), p);
        Directory.CreateDirectory(Checkpoint.StepDirectory(dir.Path, 200) + ".tmp-deadbeef"); // an interrupted save
        Directory.CreateDirectory(Checkpoint.StepDirectory(dir.Path, 300));                   // an empty folder
        Assert.Equal(Checkpoint.StepDirectory(dir.Path, 100), Checkpoint.FindLatest(dir.Path));

        Checkpoint.Prune(dir.Path, keep: 2);
        Assert.True(Directory.Exists(Checkpoint.StepDirectory(dir.Path, 100)));
        Assert.False(Directory.Exists(Checkpoint.StepDirectory(dir.Path, 20)));
        Assert.False(Directory.Exists(Checkpoint.StepDirectory(dir.Path, 5)));
    }

    static string SavedModelFile(TempDir dir)
    {
        Checkpoint.Save(dir.File("ck"), Random(Tiny, 9));
        return Path.Combine(dir.File("ck"), Checkpoint.ModelFile);
    }

    [Fact]
    public void Truncated_weights_fail_naming_the_file_and_tensor()
    {
        using var dir = new TempDir();
        string file = SavedModelFile(dir);
        var bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..(bytes.Length - 10)]);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadParameters(dir.File("ck")));
        Assert.Contains(file, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 40)]
    public void Corrupted_header_length_fails_clearly(ulong headerLength)
    {
        using var dir = new TempDir();
        string file = SavedModelFile(dir);
        var bytes = File.ReadAllBytes(file);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength);
        File.WriteAllBytes(file, bytes);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadParameters(dir.File("ck")));
        Assert.Contains("header length", e.Message);
    }

    [Fact]
    public void Garbage_header_json_fails_clearly()
    {
        using var dir = new TempDir();
        string file = SavedModelFile(dir);
        var bytes = File.ReadAllBytes(file);
        bytes[8] = (byte)'#';
        File.WriteAllBytes(file, bytes);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadParameters(dir.File("ck")));
        Assert.Contains("not valid JSON", e.Message);
    }

    static void WriteRaw(string path, string headerJson, int dataBytes)
    {
        var header = System.Text.Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}""", 16, "unsupported dtype 'I64'")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs 12 bytes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "overlap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8, "truncated or corrupted")]
    [InlineData("""{"a":{"dtype":"F32","data_offsets":[0,16]}}""", 16, "malformed header entry for tensor 'a'")]
    [InlineData("""[1,2]""", 0, "not a JSON object")]
    public void Invalid_safetensors_entries_are_rejected_on_open(string header, int dataBytes, string expected)
    {
        using var dir = new TempDir();
        WriteRaw(dir.File("x.safetensors"), header, dataBytes);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(dir.File("x.safetensors")));
        Assert.Contains(expected, e.Message);
        Assert.Contains("x.safetensors", e.Message);
    }

    [Fact]
    public void F16_and_bf16_tensors_widen_to_float32()
    {
        using var dir = new TempDir();
        var data = new byte[8];
        BinaryPrimitives.WriteHalfLittleEndian(data, (Half)1.5f);
        BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(2), (Half)(-0.25f));
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(4), Bf16.FromFloat(3.0f));
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(6), Bf16.FromFloat(-7.5f));
        var header = System.Text.Encoding.UTF8.GetBytes("""{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}}""");
        var bytes = new byte[8 + header.Length + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        File.WriteAllBytes(dir.File("m.safetensors"), bytes);

        using var file = SafeTensorsFile.Open(dir.File("m.safetensors"));
        var values = new float[2];
        file.ReadAsFloat32(file.Get("h"), values);
        Assert.Equal(new[] { 1.5f, -0.25f }, values);
        file.ReadAsFloat32(file.Get("b"), values);
        Assert.Equal(new[] { 3.0f, -7.5f }, values);
    }

    [Fact]
    public void Missing_tensor_wrong_shape_and_extra_tensor_are_named()
    {
        using var dir = new TempDir();
        var p = Random(Tiny, 10);
        // Write weights for a different shape under the tiny config's names.
        var other = Random(Tiny with { IntermediateSize = 32 }, 11);
        Checkpoint.Save(dir.File("ck"), other);
        File.WriteAllText(Path.Combine(dir.File("ck"), Checkpoint.ConfigFile), Tiny.ToJson());
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadParameters(dir.File("ck")));
        Assert.Contains("layers.0.mlp.up.weight", e.Message);
        Assert.Contains("[32, 16]", e.Message);

        // A config with an untied head expects lm_head.weight, which the tied checkpoint lacks.
        Checkpoint.Save(dir.File("ck2"), p);
        File.WriteAllText(Path.Combine(dir.File("ck2"), Checkpoint.ConfigFile), (Tiny with { TieEmbeddings = false }).ToJson());
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadParameters(dir.File("ck2")));
        Assert.Contains("'lm_head.weight' is missing", e.Message);

        // A config with fewer layers finds tensors it does not know.
        Checkpoint.Save(dir.File("ck3"), p);
        File.WriteAllText(Path.Combine(dir.File("ck3"), Checkpoint.ConfigFile), (Tiny with { NumLayers = 1 }).ToJson());
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadParameters(dir.File("ck3")));
        Assert.Contains("unexpected tensor", e.Message);
        Assert.Contains("layers.1.", e.Message);
    }

    [Fact]
    public void Bad_config_and_missing_files_fail_clearly()
    {
        using var dir = new TempDir();
        Assert.Throws<FileNotFoundException>(() => Checkpoint.LoadParameters(dir.File("nothing")));

        Checkpoint.Save(dir.File("ck"), Random(Tiny, 12));
        string config = Path.Combine(dir.File("ck"), Checkpoint.ConfigFile);
        File.WriteAllText(config, "{ not json");
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadParameters(dir.File("ck")));
        Assert.Contains(config, e.Message);

        File.WriteAllText(config, (Tiny with { NumKvHeads = 3 }).ToJson());
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadParameters(dir.File("ck")));
        Assert.Contains("num_key_value_heads", e.Message);

        var noTraining = Assert.Throws<FileNotFoundException>(() => Checkpoint.LoadTraining(dir.File("ck"), new ParameterLayout(Tiny)));
        Assert.Contains(Checkpoint.OptimizerFile, noTraining.Message);
    }
}
