using System.Text;

namespace ChatForge.Tokenizer.Tests;

public sealed class StreamingDecoderTests(TrainedTokenizerFixture fixture) : IClassFixture<TrainedTokenizerFixture>
{
    [Fact]
    public void Characters_split_over_byte_tokens_are_held_back_until_complete()
    {
        var tokenizer = ByteTokenizer.Create();
        var decoder = tokenizer.CreateStreamingDecoder();
        // "你" = E4 BD A0, "😀" = F0 9F 98 80: one token per byte.
        int[] ids = tokenizer.Encode("a你😀b");
        Assert.Equal([0x61, 0xE4, 0xBD, 0xA0, 0xF0, 0x9F, 0x98, 0x80, 0x62], ids);
        string[] pieces = ids.Select(decoder.Push).ToArray();
        Assert.Equal(["a", "", "", "你", "", "", "", "😀", "b"], pieces);
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void Streamed_text_equals_decoded_text_and_never_shows_a_replacement_character()
    {
        var tokenizer = fixture.Tokenizer;
        var random = new Random(11);
        for (int i = 0; i < 200; i++)
        {
            string text = TestText.RandomString(random, random.Next(1, 120)).Replace("\uFFFD", "");
            int[] ids = tokenizer.Encode(text);
            var decoder = tokenizer.CreateStreamingDecoder();
            var streamed = new StringBuilder();
            foreach (int id in ids)
            {
                string piece = decoder.Push(id);
                Assert.DoesNotContain('\uFFFD', piece);
                Assert.False(piece.Length > 0 && char.IsHighSurrogate(piece[^1]), "a surrogate pair was split");
                streamed.Append(piece);
            }
            streamed.Append(decoder.Flush());
            Assert.Equal(text, streamed.ToString());
        }
    }

    [Fact]
    public void Incomplete_bytes_become_a_replacement_character_only_at_flush()
    {
        var tokenizer = ByteTokenizer.Create();
        var decoder = tokenizer.CreateStreamingDecoder();
        Assert.Equal("", decoder.Push(0xE4));
        Assert.Equal("", decoder.Push(0xBD));
        Assert.Equal("\uFFFD", decoder.Flush());
        // The decoder starts over after a flush.
        Assert.Equal("A", decoder.Push(0x41));
    }

    [Fact]
    public void Bytes_that_can_never_form_a_character_are_replaced_at_once()
    {
        var tokenizer = ByteTokenizer.Create();
        var decoder = tokenizer.CreateStreamingDecoder();
        Assert.Equal("\uFFFD", decoder.Push(0x80));     // a continuation byte with no lead byte
        Assert.Equal("", decoder.Push(0xE4));
        Assert.Equal("\uFFFDA", decoder.Push(0x41));    // lead byte interrupted by ASCII
    }

    [Fact]
    public void Special_tokens_stream_as_their_names()
    {
        var tokenizer = ByteTokenizer.Create();
        var decoder = tokenizer.CreateStreamingDecoder();
        Assert.Equal("<|im_end|>", decoder.Push(tokenizer.ImEndId));
        Assert.Throws<ArgumentOutOfRangeException>(() => decoder.Push(tokenizer.VocabSize));
    }
}
