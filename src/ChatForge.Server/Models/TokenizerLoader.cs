using ChatForge.Tokenizer;

namespace ChatForge.Server.Models;

/// <summary>Loads the chat tokenizer from a model folder.</summary>
public static class TokenizerLoader
{
    public static IChatTokenizer Load(string dir) =>
        throw new NotSupportedException("the tokenizer library is not available in this build");
}
