using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;

namespace ChatForge.Import.Tests;

/// <summary>The reference checkpoints written by bench/reference/hf_reference.py, and our logits for them.</summary>
internal static class Fixture
{
    public static string Folder(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    /// <summary>The token sequence and the reference logits [T, V] computed by PyTorch.</summary>
    public static (int[] Tokens, float[] Logits) Expected(string name)
    {
        using var file = SafeTensorsFile.Open(Path.Combine(Folder(name), "expected.safetensors"));
        var tokensInfo = file.Get("tokens");
        var tokens = new float[tokensInfo.ElementCount];
        file.ReadAsFloat32(tokensInfo, tokens);
        var logitsInfo = file.Get("logits");
        var logits = new float[logitsInfo.ElementCount];
        file.ReadAsFloat32(logitsInfo, logits);
        return (tokens.Select(t => (int)t).ToArray(), logits);
    }

    /// <summary>Logits of every position of one sequence through the KV-cache inference engine.</summary>
    public static float[] Logits(ParameterBuffer parameters, int[] tokens, WeightFormat format, FileBlocks? blocks = null)
    {
        var model = new InferenceModel(parameters, format, blocks);
        var cache = model.CreateCache(1, tokens.Length);
        int slot = cache.Allocate();
        var rows = tokens.Select((t, i) => new ForwardRow(slot, t, i, true)).ToArray();
        var logits = new float[tokens.Length * model.VocabSize];
        model.Forward(rows, cache, logits);
        return logits;
    }

    public static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        float max = 0;
        for (int i = 0; i < a.Length; i++) max = MathF.Max(max, MathF.Abs(a[i] - b[i]));
        return max;
    }

    public static float MaxAbs(ReadOnlySpan<float> a)
    {
        float max = 0;
        foreach (float v in a) max = MathF.Max(max, MathF.Abs(v));
        return max;
    }
}

/// <summary>A fresh folder under the system temp directory, deleted when the test ends.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "chatforge-import-" + Guid.NewGuid().ToString("N")[..12]);

    public TempDir() => Directory.CreateDirectory(Path);

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Copies a fixture folder here so a test can damage it.</summary>
    public string CopyOf(string fixture)
    {
        string target = Sub(fixture);
        Directory.CreateDirectory(target);
        foreach (var f in Directory.GetFiles(Fixture.Folder(fixture))) File.Copy(f, System.IO.Path.Combine(target, System.IO.Path.GetFileName(f)));
        return target;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
