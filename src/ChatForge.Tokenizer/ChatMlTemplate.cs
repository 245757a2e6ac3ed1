namespace ChatForge.Tokenizer;

/// <summary>
/// ChatML, the chat format of our models (and of Qwen): each turn is
/// <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c>. The one renderer used by SFT, the CLI chat and the server.
/// Role headers and content are encoded separately (content with special-token parsing off), so the
/// content's tokens are the same at training time and when the model generates after the prompt
/// <c>&lt;|im_start|&gt;assistant\n</c>.
/// The mask is true on the assistant's content tokens and on its closing &lt;|im_end|&gt; (the model must
/// learn to stop), false on its header and on everything else.
/// </summary>
public sealed class ChatMlTemplate
{
    private static readonly string[] Roles = [ChatRoles.System, ChatRoles.User, ChatRoles.Assistant];

    private readonly Func<string, int[]> _encodeText;
    private readonly int _imStart;
    private readonly int _imEnd;
    private readonly Dictionary<string, int[]> _headers;
    private readonly int[] _newline;

    /// <param name="encodeText">Encodes plain text with special-token parsing off.</param>
    public ChatMlTemplate(Func<string, int[]> encodeText, int imStartId, int imEndId)
    {
        _encodeText = encodeText;
        _imStart = imStartId;
        _imEnd = imEndId;
        _headers = Roles.ToDictionary(r => r, r => encodeText(r + "\n"), StringComparer.Ordinal);
        _newline = encodeText("\n");
    }

    public RenderedChat Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var ids = new List<int>(256);
        var mask = new List<bool>(256);
        for (int i = 0; i < messages.Count; i++)
        {
            var message = messages[i] ?? throw new ArgumentException($"Message {i} is null.", nameof(messages));
            if (message.Role is null || !_headers.TryGetValue(message.Role, out int[]? header))
                throw new ArgumentException($"Message {i} has role \"{message.Role}\"; the roles are {string.Join(", ", Roles)}.", nameof(messages));
            if (message.Content is null) throw new ArgumentException($"Message {i} ({message.Role}) has no content.", nameof(messages));

            bool trained = message.Role == ChatRoles.Assistant;
            Append(ids, mask, _imStart, false);
            Append(ids, mask, header, false);
            Append(ids, mask, _encodeText(message.Content), trained);
            Append(ids, mask, _imEnd, trained);
            Append(ids, mask, _newline, false);
        }
        if (addGenerationPrompt)
        {
            Append(ids, mask, _imStart, false);
            Append(ids, mask, _headers[ChatRoles.Assistant], false);
        }
        return new RenderedChat(ids.ToArray(), mask.ToArray());
    }

    /// <summary>The ids that open an assistant turn: <c>&lt;|im_start|&gt;assistant\n</c>.</summary>
    public int[] GenerationPrompt() => [_imStart, .. _headers[ChatRoles.Assistant]];

    private static void Append(List<int> ids, List<bool> mask, int id, bool trained)
    {
        ids.Add(id);
        mask.Add(trained);
    }

    private static void Append(List<int> ids, List<bool> mask, int[] span, bool trained)
    {
        ids.AddRange(span);
        for (int i = 0; i < span.Length; i++) mask.Add(trained);
    }
}
