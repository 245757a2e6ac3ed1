using ChatForge.Data.Build;

namespace ChatForge.Data.Dialogues;

public static class DialogueBuilder
{
    public static Dictionary<string, object> BuildAll(DataPaths paths, Knowledge knowledge, Action<string> log) => [];
}
