using ChatForge.Import;
using ChatForge.Tokenizer;

namespace ChatForge.Server.Models;

/// <summary>
/// Loads the chat tokenizer from a model folder: ChatForge's own (tokenizer.tiktoken + tokenizer.json) or an imported
/// model's Hugging Face tokenizer.json (byte-level or SentencePiece-style BPE, with its chat template), so the server
/// serves imported models like its own.
/// </summary>
public static class TokenizerLoader
{
    public static IChatTokenizer Load(string dir) => ModelFolder.LoadTokenizer(dir);
}
