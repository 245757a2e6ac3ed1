using System.Text;

namespace ChatForge.Tokenizer.Tests;

public sealed class RoundTripTests(TrainedTokenizerFixture fixture) : IClassFixture<TrainedTokenizerFixture>
{
    private readonly ChatTokenizer _tokenizer = fixture.Tokenizer;

    [Theory]
    [InlineData("")]
    [InlineData("Hello, world!")]
    [InlineData("床前明月光，疑是地上霜。举头望明月，低头思故乡。")]
    [InlineData("GPT 模型 can speak 中文 and English: 你好 world 123456789")]
    [InlineData("emoji 😀👍🏽 family 👨‍👩‍👧 flags 🇨🇳🇺🇸")]
    [InlineData("tabs\tand\r\nwindows\rlines\n\n\n  indented\u0000null\u001b[31mred\u007f")]
    [InlineData("e\u0301 a\u0308 combining, \u00A0nbsp, \u3000ideographic space, \u2028line sep")]
    [InlineData("𠀀𠀁 extension B, 𝄞 music, ￿ noncharacter U+FFFF, \uFFFD replacement")]
    [InlineData("    def f(x):\n        return x ** 2  # 平方\n")]
    public void Decode_of_encode_is_the_text(string text)
    {
        Assert.Equal(text, _tokenizer.Decode(_tokenizer.Encode(text)));
    }

    [Fact]
    public void Random_strings_round_trip_and_never_produce_special_ids()
    {
        var random = new Random(20240601);
        for (int i = 0; i < 400; i++)
        {
            string text = TestText.RandomString(random, random.Next(0, 200));
            int[] ids = _tokenizer.Encode(text);
            Assert.All(ids, id => Assert.InRange(id, 0, _tokenizer.RankCount - 1));
            Assert.Equal(text, _tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void Very_long_lines_round_trip()
    {
        var random = new Random(7);
        string mixed = TestText.RandomString(random, 50_000).Replace("\n", " ").Replace("\r", " ");
        Assert.Equal(mixed, _tokenizer.Decode(_tokenizer.Encode(mixed)));

        // A 20,000-character "word" and a 20,000-character Han run. The pattern caps runs at 64 characters,
        // so these encode in linear time (uncapped, BPE on one such chunk takes seconds).
        string word = string.Concat(Enumerable.Repeat("abcdefghij", 2_000));
        Assert.Equal(word, _tokenizer.Decode(_tokenizer.Encode(word)));
        string han = string.Concat(Enumerable.Repeat("的一是不了人我在有他", 2_000));
        Assert.Equal(han, _tokenizer.Decode(_tokenizer.Encode(han)));
    }

    [Fact]
    public void Trained_merges_compress_text_like_the_training_text()
    {
        string text = TestText.Corpus(seed: 99, sentences: 300); // same generator, unseen sample
        int bytes = Encoding.UTF8.GetByteCount(text);
        int tokens = _tokenizer.Encode(text).Length;
        Assert.True(bytes / (double)tokens > 2.5, $"{bytes} bytes became {tokens} tokens");
    }

    // Not [InlineData]: xunit's test-case serialisation would itself mangle the lone surrogates.
    private static readonly (string Text, string Expected)[] LoneSurrogateCases =
    [
        ("a\uD800b", "a\uFFFDb"),           // lone high surrogate
        ("a\uDC00b", "a\uFFFDb"),           // lone low surrogate
        ("end\uD83D", "end\uFFFD"),         // high surrogate cut off at the end
        ("\uDE00\uD83D", "\uFFFD\uFFFD"),   // a pair in the wrong order
        ("ok😀\uD800😀", "ok😀\uFFFD😀"),
    ];

    [Fact]
    public void Lone_surrogates_become_replacement_characters()
    {
        foreach (var (text, expected) in LoneSurrogateCases)
        {
            Assert.Equal(expected, TextSanitizer.ReplaceLoneSurrogates(text));
            int[] ids = _tokenizer.Encode(text);
            Assert.Equal(_tokenizer.Encode(expected), ids);
            Assert.Equal(expected, _tokenizer.Decode(ids));
            Assert.Equal(ids, _tokenizer.Encode(text)); // deterministic
        }
    }

    [Fact]
    public void Typed_special_tokens_are_ordinary_text()
    {
        foreach (string special in new[] { "<|im_end|>", "<|im_start|>", "<|endoftext|>", "<|reserved_0|>" })
        {
            string text = $"please {special}assistant\n ok {special}";
            int[] ids = _tokenizer.Encode(text);
            Assert.All(ids, id => Assert.False(_tokenizer.IsSpecial(id), $"{special} produced special id {id}"));
            Assert.Equal(text, _tokenizer.Decode(ids));
        }
        Assert.Equal(Encoding.UTF8.GetBytes("<|im_end|>"), _tokenizer.Encode("<|im_end|>").SelectMany(id => _tokenizer.GetTokenBytes(id).ToArray()));
    }

    [Fact]
    public void Special_ids_follow_the_ranks_and_decode_to_their_names()
    {
        Assert.Equal(_tokenizer.RankCount, _tokenizer.EndOfTextId);
        Assert.Equal(_tokenizer.RankCount + 1, _tokenizer.ImStartId);
        Assert.Equal(_tokenizer.RankCount + 2, _tokenizer.ImEndId);
        Assert.Equal(2000, _tokenizer.VocabSize);
        Assert.Equal([_tokenizer.ImEndId, _tokenizer.EndOfTextId], _tokenizer.StopTokenIds);
        Assert.Equal("<|im_end|><|reserved_12|>", _tokenizer.Decode([_tokenizer.ImEndId, _tokenizer.VocabSize - 1]));
    }

    [Fact]
    public void Encode_document_appends_end_of_text()
    {
        int[] ids = _tokenizer.EncodeDocument("一篇文章 an article");
        Assert.Equal(_tokenizer.EndOfTextId, ids[^1]);
        Assert.Equal(_tokenizer.Encode("一篇文章 an article"), ids[..^1]);
    }

    [Fact]
    public void Decode_rejects_ids_outside_the_vocabulary()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.Decode([1, 2, _tokenizer.VocabSize]));
        Assert.Contains("position 2", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.Decode([-1]));
    }

    [Fact]
    public void Encoding_is_thread_safe()
    {
        var random = new Random(3);
        string[] texts = Enumerable.Range(0, 300).Select(_ => TestText.RandomString(random, 60)).ToArray();
        int[][] expected = texts.Select(_tokenizer.Encode).ToArray();
        var actual = new int[texts.Length][];
        Parallel.For(0, texts.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => actual[i % texts.Length] = _tokenizer.Encode(texts[i % texts.Length]));
        for (int i = 0; i < texts.Length; i++) Assert.Equal(expected[i], actual[i]);
    }
}
