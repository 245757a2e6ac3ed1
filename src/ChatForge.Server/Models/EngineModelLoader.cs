namespace ChatForge.Server.Models;

/// <summary>Loads a model folder for the local engine.</summary>
public sealed class EngineModelLoader : ILocalModelLoader
{
    public ModelBackend Load(string dir, string name)
    {
        string full = Path.GetFullPath(dir);
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"no model folder at {full}");
        throw new NotSupportedException("the local engine is not available in this build");
    }
}
