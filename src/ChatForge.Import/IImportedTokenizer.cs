using ChatForge.Tokenizer;

namespace ChatForge.Import;

/// <summary>A tokenizer read from a Hugging Face tokenizer.json (byte-level BPE or SentencePiece-style BPE).</summary>
public interface IImportedTokenizer : IChatTokenizer
{
    /// <summary>The chat format recognised from tokenizer_config.json: chatml, llama3, zephyr, llama2, mistral or generic.</summary>
    string TemplateName { get; }
    /// <summary>Tokens matched only by id (never produced from user text): &lt;s&gt;, &lt;/s&gt;, &lt;|im_end|&gt;…</summary>
    IReadOnlyDictionary<string, int> AddedTokens { get; }
    /// <summary>The bytes an id stands for (what streaming decoding concatenates).</summary>
    byte[] TokenBytes(int id);
}
