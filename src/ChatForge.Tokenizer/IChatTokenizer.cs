namespace ChatForge.Tokenizer;

public static class ChatRoles
{
    public const string System = "system";
    public const string User = "user";
    public const string Assistant = "assistant";
}

public sealed record ChatMessage(string Role, string Content);

/// <summary>Token ids of a rendered conversation; Mask[i] is true where ids[i] belongs to an assistant answer (the SFT loss positions).</summary>
public sealed record RenderedChat(int[] Ids, bool[] Mask);

/// <summary>
/// Turns text to ids and back, and renders conversations with the model's chat template (ChatML for our
/// models and Qwen-style imports). Text is always encoded with special-token parsing OFF: a user who types
/// "&lt;|im_end|&gt;" gets ordinary bytes. Implemented by our tiktoken-based tokenizer and, later, imported ones.
/// </summary>
public interface IChatTokenizer
{
    int VocabSize { get; }
    /// <summary>Ids that end an assistant answer (&lt;|im_end|&gt; and &lt;|endoftext|&gt;).</summary>
    IReadOnlyList<int> StopTokenIds { get; }
    int[] Encode(string text);
    string Decode(ReadOnlySpan<int> ids);
    /// <summary>The conversation rendered to ids; with addGenerationPrompt, ends with the opening of an assistant turn.</summary>
    RenderedChat RenderChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt);
    /// <summary>A decoder for streamed ids that emits only complete UTF-8 characters.</summary>
    IStreamingDecoder CreateStreamingDecoder();
}

public interface IStreamingDecoder
{
    /// <summary>Text completed by this id (possibly empty when a character is still split across tokens).</summary>
    string Push(int id);
    /// <summary>Whatever remains at the end of the stream (incomplete bytes become U+FFFD here, and only here).</summary>
    string Flush();
}
