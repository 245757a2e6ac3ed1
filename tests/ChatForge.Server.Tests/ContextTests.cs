using ChatForge.Engine.Inference;
using ChatForge.Server.Models;
using ChatForge.Tokenizer;

namespace ChatForge.Server.Tests;

public sealed class ContextTests
{
    sealed class FixedContext(int context) : ITokenGenerator
    {
        public int VocabSize => 259;
        public int ContextLength => context;
        public IAsyncEnumerable<GenerationStep> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }

    static readonly ByteChatTokenizer Tokenizer = new();

    [Fact]
    public void Oldest_turns_are_dropped_first_and_the_system_prompt_is_kept()
    {
        var backend = new LocalModelBackend(new FixedContext(200), Tokenizer, "v");
        var messages = new List<ChatMessage> { new("system", "SYS") };
        for (int i = 0; i < 10; i++) { messages.Add(new("user", $"question {i}")); messages.Add(new("assistant", $"answer {i}")); }
        messages.Add(new("user", "last question"));
        var ids = backend.BuildPrompt(new BackendRequest { Messages = messages, MaxTokens = 40 }, out int dropped);

        string text = Tokenizer.Decode(ids);
        Assert.True(ids.Length <= 200 - 40, $"prompt of {ids.Length} tokens leaves no room");
        Assert.True(dropped > 0);
        Assert.StartsWith("<|im_start|>system\nSYS<|im_end|>", text);
        Assert.Contains("last question", text);
        Assert.DoesNotContain("question 0", text);
        Assert.EndsWith("<|im_start|>assistant\n", text);
        // What is left starts with a user turn right after the system prompt.
        Assert.StartsWith("<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\n", text);
    }

    [Fact]
    public void Continue_renders_the_partial_answer_as_an_open_assistant_turn()
    {
        var backend = new LocalModelBackend(new FixedContext(512), Tokenizer, "v");
        var ids = backend.BuildPrompt(new BackendRequest { Messages = [new("user", "hi")], ContinueFrom = "Once upon a" }, out _);
        Assert.EndsWith("<|im_start|>assistant\nOnce upon a", Tokenizer.Decode(ids));
        Assert.NotEqual(ByteChatTokenizer.ImEnd, ids[^1]);
    }

    [Fact]
    public void A_single_message_longer_than_the_window_is_a_clear_error()
    {
        var backend = new LocalModelBackend(new FixedContext(64), Tokenizer, "v");
        var e = Assert.Throws<ModelBackendException>(() => backend.BuildPrompt(new BackendRequest { Messages = [new("user", new string('x', 200))] }, out _));
        Assert.Equal(400, e.Status);
        Assert.Contains("context window is 64 tokens", e.Message);
    }

    [Fact]
    public void Stop_sequences_cut_across_pieces()
    {
        var stops = new StopSequences(["END"]);
        Assert.Equal("abc ", stops.Push("abc E", out bool s1));
        Assert.False(s1);
        Assert.Equal("", stops.Push("N", out bool s2));
        Assert.False(s2);
        Assert.Equal("", stops.Push("D and more", out bool s3));
        Assert.True(s3);
        var other = new StopSequences(["END"]);
        Assert.Equal("x ", other.Push("x E", out _));
        Assert.Equal("E", other.Flush()); // held text is not lost when the stream ends
    }
}
