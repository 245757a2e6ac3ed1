using System.Text;
using ChatForge.Tokenizer;

namespace ChatForge.Server.Tests;

/// <summary>
/// A byte-level ChatML tokenizer for tests: ids 0–255 are bytes, then &lt;|endoftext|&gt;, &lt;|im_start|&gt;,
/// &lt;|im_end|&gt;. Text never encodes to a special id, as the contract requires.
/// </summary>
internal sealed class ByteChatTokenizer : IChatTokenizer
{
    public const int EndOfText = 256, ImStart = 257, ImEnd = 258;
    public int VocabSize => 259;
    public IReadOnlyList<int> StopTokenIds { get; } = [ImEnd, EndOfText];

    public int[] Encode(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();

    public string Decode(ReadOnlySpan<int> ids)
    {
        var sb = new StringBuilder();
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (id < 256) { bytes.Add((byte)id); continue; }
            sb.Append(Encoding.UTF8.GetString(bytes.ToArray())); bytes.Clear();
            sb.Append(id switch { EndOfText => "<|endoftext|>", ImStart => "<|im_start|>", _ => "<|im_end|>" });
        }
        return sb.Append(Encoding.UTF8.GetString(bytes.ToArray())).ToString();
    }

    public RenderedChat RenderChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var ids = new List<int>();
        var mask = new List<bool>();
        void Add(IEnumerable<int> part, bool m) { foreach (var id in part) { ids.Add(id); mask.Add(m); } }
        foreach (var message in messages)
        {
            Add([ImStart, .. Encode(message.Role + "\n")], false);
            bool answer = message.Role == ChatRoles.Assistant;
            Add([.. Encode(message.Content), ImEnd], answer);
            Add(Encode("\n"), false);
        }
        if (addGenerationPrompt) Add([ImStart, .. Encode("assistant\n")], false);
        return new RenderedChat(ids.ToArray(), mask.ToArray());
    }

    public IStreamingDecoder CreateStreamingDecoder() => new Streaming();

    sealed class Streaming : IStreamingDecoder
    {
        readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();

        public string Push(int id)
        {
            if (id >= 256) return "";
            var chars = new char[4];
            int n = _utf8.GetChars([(byte)id], 0, 1, chars, 0, flush: false);
            return new string(chars, 0, n);
        }

        public string Flush()
        {
            var chars = new char[4];
            int n = _utf8.GetChars([], 0, 0, chars, 0, flush: true);
            return new string(chars, 0, n);
        }
    }
}
