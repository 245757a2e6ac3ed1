using ChatForge.Tokenizer;

namespace ChatForge.Import;

/// <summary>
/// How a template encodes the text between its special tokens. Tokenizers encodes each run of text between
/// added tokens separately, and with a SentencePiece normaliser each run gets its own leading "▁", so a
/// prompt must be encoded run by run, not message by message. atStart: the run begins the input (the BOS
/// the post-processor adds does not count). Bos / Eos: the ids of &lt;s&gt; and &lt;/s&gt;, or -1. WholeRuns: encoding
/// piece by piece would differ from encoding the run (true for SentencePiece, false for byte-level BPE).
/// </summary>
internal sealed record RunEncoding(Func<string, bool, int[]> EncodeRun, int Bos, int Eos, bool WholeRuns);

/// <summary>Collects text pieces and special ids, encodes each maximal run of text at once, and attributes its tokens to the pieces for the answer mask.</summary>
internal sealed class RunBuilder(RunEncoding encoding)
{
    readonly List<int> _ids = [];
    readonly List<bool> _mask = [];
    readonly List<(string Text, bool Trained)> _run = [];
    bool _started;

    public void Text(string text, bool trained) { if (text.Length > 0) _run.Add((text, trained)); }

    public void Special(int id, bool trained)
    {
        EndRun();
        _ids.Add(id);
        _mask.Add(trained);
    }

    public RenderedChat Build()
    {
        EndRun();
        return new RenderedChat(_ids.ToArray(), _mask.ToArray());
    }

    /// <summary>
    /// A token belongs to the piece in which it starts: the tokens of the run that the encoding of its first
    /// j pieces shares as a prefix belong to those pieces (a token merged across a boundary goes to the later piece).
    /// </summary>
    void EndRun()
    {
        if (_run.Count == 0) return;
        bool atStart = !_started;
        _started = true;
        int[] all = encoding.EncodeRun(string.Concat(_run.Select(p => p.Text)), atStart);
        int assigned = 0;
        string prefix = "";
        for (int j = 0; j < _run.Count; j++)
        {
            prefix += _run[j].Text;
            int upto = j == _run.Count - 1 ? all.Length : CommonPrefix(encoding.EncodeRun(prefix, atStart), all);
            for (; assigned < upto; assigned++) _mask.Add(_run[j].Trained);
        }
        _ids.AddRange(all);
        _run.Clear();
    }

    static int CommonPrefix(int[] a, int[] b)
    {
        int n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }
}

/// <summary>
/// Zephyr (TinyLlama-1.1B-Chat, zephyr-7b): &lt;s&gt;&lt;|system|&gt;\n…&lt;/s&gt;\n&lt;|user|&gt;\n…&lt;/s&gt;\n&lt;|assistant|&gt;\n…&lt;/s&gt;\n.
/// The role markers are plain text (not added tokens); &lt;/s&gt; closes every turn and stops generation.
/// The answer mask covers the assistant's content and its &lt;/s&gt;.
/// </summary>
internal sealed class ZephyrTemplate(RunEncoding encoding, string eosToken) : IChatTemplate
{
    public string Name => "zephyr";
    public IReadOnlyList<string> EndOfTurnTokens => [eosToken];

    public RenderedChat Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var prompt = new RunBuilder(encoding);
        if (encoding.Bos >= 0) prompt.Special(encoding.Bos, false);
        foreach (var m in ChatTemplates.Validate(messages))
        {
            bool trained = m.Role == ChatRoles.Assistant;
            prompt.Text($"<|{m.Role}|>\n", false);
            prompt.Text(m.Content, trained);
            prompt.Special(encoding.Eos, trained);
            prompt.Text("\n", false);
        }
        if (addGenerationPrompt) prompt.Text("<|assistant|>\n", false);
        return prompt.Build();
    }
}

/// <summary>
/// ChatML for SentencePiece models (TinyLlama-Chat v0.x, OpenHermes-Mistral): the same turns as
/// <see cref="ChatMlTemplate"/>, &lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n, but each run of text between the added
/// tokens ("role\ncontent", "\n") encoded whole, after the BOS, as tokenizers encodes the rendered prompt.
/// </summary>
internal sealed class RunChatMlTemplate(RunEncoding encoding, int imStart, int imEnd) : IChatTemplate
{
    public string Name => "chatml";
    public IReadOnlyList<string> EndOfTurnTokens => ["<|im_end|>"];

    public RenderedChat Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var prompt = new RunBuilder(encoding);
        if (encoding.Bos >= 0) prompt.Special(encoding.Bos, false);
        foreach (var m in ChatTemplates.Validate(messages))
        {
            bool trained = m.Role == ChatRoles.Assistant;
            prompt.Special(imStart, false);
            prompt.Text(m.Role + "\n", false);
            prompt.Text(m.Content, trained);
            prompt.Special(imEnd, trained);
            prompt.Text("\n", false);
        }
        if (addGenerationPrompt)
        {
            prompt.Special(imStart, false);
            prompt.Text(ChatRoles.Assistant + "\n", false);
        }
        return prompt.Build();
    }
}

/// <summary>
/// [INST] … [/INST]. Llama-2-chat (the template has &lt;&lt;SYS&gt;&gt;): every user turn opens with &lt;s&gt;, the system prompt
/// sits in &lt;&lt;SYS&gt;&gt;…&lt;&lt;/SYS&gt;&gt; inside the first one, answers are " answer &lt;/s&gt;". Mistral-Instruct v0.1: one &lt;s&gt;,
/// answers "answer&lt;/s&gt;", a system prompt goes in front of the first user message. The prompt ends with " [/INST]".
/// </summary>
internal sealed class InstTemplate(RunEncoding encoding, string eosToken, bool llama2) : IChatTemplate
{
    public string Name => llama2 ? "llama2" : "mistral";
    public IReadOnlyList<string> EndOfTurnTokens => [eosToken];

    public RenderedChat Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var prompt = new RunBuilder(encoding);
        var list = ChatTemplates.Validate(messages).ToList();
        string? system = list.Count > 0 && list[0].Role == ChatRoles.System ? list[0].Content : null;
        if (system is not null) list.RemoveAt(0);
        if (!llama2 && encoding.Bos >= 0) prompt.Special(encoding.Bos, false);
        for (int i = 0; i < list.Count; i++)
        {
            var m = list[i];
            string content = i == 0 && system is not null
                ? (llama2 ? $"<<SYS>>\n{system}\n<</SYS>>\n\n{m.Content}" : $"{system}\n\n{m.Content}")
                : m.Content;
            if (m.Role == ChatRoles.Assistant)
            {
                if (llama2) prompt.Text(" ", false);
                prompt.Text(llama2 ? content.Trim() + " " : content, true);
                prompt.Special(encoding.Eos, true);
                continue;
            }
            if (llama2 && encoding.Bos >= 0) prompt.Special(encoding.Bos, false);
            prompt.Text("[INST] " + (llama2 ? content.Trim() : content) + " [/INST]", false);
        }
        return prompt.Build();
    }
}
