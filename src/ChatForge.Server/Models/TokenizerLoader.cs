using ChatForge.Tokenizer;

namespace ChatForge.Server.Models;

/// <summary>Loads the chat tokenizer from a model folder (tokenizer.tiktoken + tokenizer.json).</summary>
public static class TokenizerLoader
{
    public static IChatTokenizer Load(string dir) => ChatTokenizer.Load(dir);
}
