namespace ChatForge.Data;

/// <summary>The data folder's layout (default `data/` at the repository root); docs/formats.md describes each file.</summary>
public sealed class DataPaths(string root)
{
    public string Root { get; } = Path.GetFullPath(root);
    public string Sources => Path.Combine(Root, "sources");
    public string Manifest => Path.Combine(Sources, "manifest.json");
    public string Unpacked(string source) => Path.Combine(Sources, "x", source);
    public string OpenCcText => Path.Combine(Sources, "x", "opencc-text");
    public string Corpus => Path.Combine(Root, "corpus");
    public string CorpusSplit(string split) => Path.Combine(Corpus, split);
    public string Sft => Path.Combine(Root, "sft");
    public string Rankings => Path.Combine(Root, "rankings");
    public string Eval => Path.Combine(Root, "eval");
    public string Tokens => Path.Combine(Root, "tokens");
    public string BuildReport => Path.Combine(Root, "build-report.json");
}
