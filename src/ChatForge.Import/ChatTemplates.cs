using ChatForge.Tokenizer;

namespace ChatForge.Import;

/// <summary>A chat format: renders a conversation to ids with the assistant-answer mask.</summary>
internal interface IChatTemplate
{
    string Name { get; }
    /// <summary>Added tokens that close a turn (they stop generation).</summary>
    IReadOnlyList<string> EndOfTurnTokens { get; }
    RenderedChat Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt);
}

/// <summary>
/// Recognises the chat format from the Jinja source of tokenizer_config.json's chat_template by the
/// markers each family's template writes (we render the format, we do not run Jinja): ChatML
/// (&lt;|im_start|&gt;, Qwen and SmolLM2), Llama-3 (&lt;|start_header_id|&gt;), Zephyr (&lt;|user|&gt; &lt;|assistant|&gt;, TinyLlama),
/// [INST] (Llama-2-chat with &lt;&lt;SYS&gt;&gt;, else Mistral-Instruct), else a generic "Role: text" fallback.
/// </summary>
internal static class ChatTemplates
{
    public static IChatTemplate Recognise(string? jinja, Func<string, int[]> encode, IReadOnlyDictionary<string, int> added, RunEncoding runs)
    {
        string? eos = runs.Eos < 0 ? null : added.FirstOrDefault(kv => kv.Value == runs.Eos).Key;
        if (jinja is not null && jinja.Contains("<|im_start|>") && added.TryGetValue("<|im_start|>", out int start) && added.TryGetValue("<|im_end|>", out int end))
            return runs.WholeRuns ? new RunChatMlTemplate(runs, start, end) : new ChatMl(new ChatMlTemplate(encode, start, end));
        if (jinja is not null && jinja.Contains("<|start_header_id|>") && added.TryGetValue("<|start_header_id|>", out int header)
            && added.TryGetValue("<|end_header_id|>", out int headerEnd) && added.TryGetValue("<|eot_id|>", out int eot))
            return new Llama3(encode, added.TryGetValue("<|begin_of_text|>", out int bos) ? bos : -1, header, headerEnd, eot);
        if (jinja is not null && eos is not null && jinja.Contains("<|user|>") && jinja.Contains("<|assistant|>"))
            return new ZephyrTemplate(runs, eos);
        if (jinja is not null && eos is not null && jinja.Contains("[INST]") && jinja.Contains("[/INST]"))
            return new InstTemplate(runs, eos, llama2: jinja.Contains("<<SYS>>"));
        return new Generic(runs);
    }

    sealed class ChatMl(ChatMlTemplate template) : IChatTemplate
    {
        public string Name => "chatml";
        public IReadOnlyList<string> EndOfTurnTokens => ["<|im_end|>"];
        public RenderedChat Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) => template.Render(messages, addGenerationPrompt);
    }

    /// <summary>&lt;|begin_of_text|&gt;&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;…; the answer mask covers content and &lt;|eot_id|&gt;.</summary>
    sealed class Llama3(Func<string, int[]> encode, int bos, int header, int headerEnd, int eot) : IChatTemplate
    {
        public string Name => "llama3";
        public IReadOnlyList<string> EndOfTurnTokens => ["<|eot_id|>"];

        public RenderedChat Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
        {
            var ids = new List<int>();
            var mask = new List<bool>();
            void Add(IEnumerable<int> span, bool trained) { foreach (int id in span) { ids.Add(id); mask.Add(trained); } }
            if (bos >= 0) Add([bos], false);
            foreach (var m in Validate(messages))
            {
                bool trained = m.Role == ChatRoles.Assistant;
                Add([header, .. encode(m.Role), headerEnd, .. encode("\n\n")], false);
                Add([.. encode(m.Content.Trim()), eot], trained);
            }
            if (addGenerationPrompt) Add([header, .. encode(ChatRoles.Assistant), headerEnd, .. encode("\n\n")], false);
            return new RenderedChat(ids.ToArray(), mask.ToArray());
        }
    }

    /// <summary>For tokenizers without a recognised template: "System: …\nUser: …\nAssistant: …" lines, after the BOS a SentencePiece model expects.</summary>
    sealed class Generic(RunEncoding runs) : IChatTemplate
    {
        public string Name => "generic";
        public IReadOnlyList<string> EndOfTurnTokens => [];

        public RenderedChat Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
        {
            var prompt = new RunBuilder(runs);
            if (runs.Bos >= 0) prompt.Special(runs.Bos, false);
            foreach (var m in Validate(messages))
            {
                prompt.Text(char.ToUpperInvariant(m.Role[0]) + m.Role[1..] + ": ", false);
                prompt.Text(m.Content + "\n", m.Role == ChatRoles.Assistant);
            }
            if (addGenerationPrompt) prompt.Text("Assistant:", false);
            return prompt.Build();
        }
    }

    public static IEnumerable<ChatMessage> Validate(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i] ?? throw new ArgumentException($"Message {i} is null.", nameof(messages));
            if (m.Role is not (ChatRoles.System or ChatRoles.User or ChatRoles.Assistant))
                throw new ArgumentException($"Message {i} has role \"{m.Role}\"; the roles are system, user, assistant.", nameof(messages));
            if (m.Content is null) throw new ArgumentException($"Message {i} ({m.Role}) has no content.", nameof(messages));
            yield return m;
        }
    }
}
