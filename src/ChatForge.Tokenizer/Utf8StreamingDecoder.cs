using System.Text;

namespace ChatForge.Tokenizer;

/// <summary>
/// Turns streamed ids into text without ever showing half a character: a Chinese character or an emoji
/// whose UTF-8 bytes are spread over several byte-level tokens is held back until its last byte arrives.
/// Only <see cref="Flush"/> turns a still incomplete sequence into U+FFFD; bytes that can never form a
/// character (e.g. a stray continuation byte) become U+FFFD as soon as that is certain, as in Decode.
/// Not thread-safe: one decoder per stream.
/// </summary>
public sealed class Utf8StreamingDecoder : IStreamingDecoder
{
    private readonly ChatTokenizer _tokenizer;
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];

    public Utf8StreamingDecoder(ChatTokenizer tokenizer) => _tokenizer = tokenizer;

    public string Push(int id) => Convert(_tokenizer.GetTokenBytes(id), flush: false);

    public string Flush() => Convert([], flush: true);

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        // At most bytes + 3 held-back bytes worth of chars, plus one U+FFFD per held-back byte on flush.
        int max = bytes.Length + 8;
        if (_chars.Length < max) _chars = new char[Math.Max(max, _chars.Length * 2)];
        int n = _utf8.GetChars(bytes, _chars, flush);
        return n == 0 ? string.Empty : new string(_chars, 0, n);
    }
}
