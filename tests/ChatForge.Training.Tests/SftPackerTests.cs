using ChatForge.Data.Dialogues;
using ChatForge.Engine.Model;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;
using ChatForge.Training.Sft;

namespace ChatForge.Training.Tests;

public class SftPackerTests
{
    static SftRecord Dialogue(string user, string assistant, string? followUp = null, string? second = null)
    {
        var messages = new List<ChatTurn> { new("system", "be brief"), new("user", user), new("assistant", assistant) };
        if (followUp is not null) { messages.Add(new("user", followUp)); messages.Add(new("assistant", second!)); }
        return new SftRecord("x", "test", "en", messages);
    }

    [Fact]
    public void Only_assistant_tokens_and_their_closing_token_are_targets()
    {
        var tok = TinyWorld.Tokenizer;
        var record = Dialogue("question 1", "yes", "and question 2", "no");
        var sequence = SftPacker.Render(record, tok);
        var rendered = tok.RenderChat(record.Messages.ToChat(), false);

        var expectedTargets = new List<int>();
        for (int j = 1; j < rendered.Ids.Length; j++)
            if (rendered.Mask[j]) expectedTargets.Add(rendered.Ids[j]);
        Assert.Equal(expectedTargets, sequence.Targets.Where(t => t >= 0));
        // Both answers and both closing tokens are learned; nothing of the system or user turns is.
        Assert.Equal(tok.Encode("yes").Length + tok.Encode("no").Length + 2, sequence.LossTokens);
        Assert.Equal(2, sequence.Targets.Count(t => t == tok.ImEndId));
    }

    [Fact]
    public void Packing_fills_rows_without_splitting_dialogues_and_pads_with_no_loss()
    {
        var tok = TinyWorld.Tokenizer;
        var sequences = Enumerable.Range(0, 7).Select(i => SftPacker.Render(Dialogue($"question {i}", "yes"), tok)).ToList();
        int length = sequences[0].Length, t = 2 * length + 3;
        var (inputs, targets, rows, truncated) = SftPacker.Pack(sequences, t, tok.EndOfTextId);
        Assert.Equal(4, rows); // two dialogues per row
        Assert.Equal(0, truncated);
        Assert.Equal(sequences.Sum(s => s.LossTokens), targets.Count(x => x >= 0));
        Assert.Equal(sequences[1].Inputs, inputs.AsSpan(length, length).ToArray());
        Assert.All(targets.AsSpan(2 * length, 3).ToArray(), x => Assert.Equal(-1, x));

        var (_, _, _, cut) = SftPacker.Pack(sequences, length - 2, tok.EndOfTextId);
        Assert.Equal(7, cut);
    }

    [Fact]
    public void The_loss_on_a_packed_batch_is_the_mean_over_assistant_tokens_only()
    {
        var tok = TinyWorld.Tokenizer;
        var model = new Transformer(TinyWorld.Config(), seed: 3);
        var sequences = Enumerable.Range(0, 4).Select(i => SftPacker.Render(Dialogue($"question {i}", i % 2 == 0 ? "yes" : "no"), tok)).ToList();
        var (inputs, targets, rows, _) = SftPacker.Pack(sequences, 64, tok.EndOfTextId);
        var logProbs = new float[inputs.Length];
        float loss = model.Evaluate(inputs, targets, rows, 64, logProbs);
        double manual = 0;
        int count = 0;
        for (int i = 0; i < targets.Length; i++)
            if (targets[i] >= 0) { manual -= logProbs[i]; count++; }
            else Assert.Equal(0f, logProbs[i]);
        Assert.Equal(manual / count, loss, 4);
    }

    [Fact]
    public void Malformed_records_are_rejected_with_file_and_line()
    {
        using var dir = new TempFolder();
        string path = Path.Combine(dir.Path, "sft.jsonl");
        File.WriteAllText(path, """{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}""" + "\n\n{oops\n");
        var e = Assert.Throws<InvalidDataException>(() => Jsonl.ReadSft(path));
        Assert.Contains("sft.jsonl:3: malformed JSON", e.Message);

        File.WriteAllText(path, """{"messages":[{"role":"wizard","content":"hi"}]}""");
        Assert.Contains("role 'wizard'", Assert.Throws<InvalidDataException>(() => Jsonl.ReadSft(path)).Message);

        File.WriteAllText(path, """{"messages":[{"role":"user","content":"hi"}]}""");
        Assert.Contains("no assistant turn", Assert.Throws<InvalidDataException>(() => Jsonl.ReadSft(path)).Message);

        File.WriteAllBytes(path, [.. "{\"messages\":[{\"role\":\"user\",\"content\":\""u8, 0xC3, 0x28, .. "\"}]}\n"u8]);
        Assert.Contains("invalid UTF-8", Assert.Throws<InvalidDataException>(() => Jsonl.ReadSft(path)).Message);

        File.WriteAllText(path, """{"messages":[{"role":"user","content":"q"}],"answers":["only one"]}""");
        Assert.Contains("at least 2 answers", Assert.Throws<InvalidDataException>(() => Jsonl.ReadRankings(path)).Message);
    }
}

public sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "chatforge-training-" + Guid.NewGuid().ToString("N")[..10]);
    public TempFolder() => Directory.CreateDirectory(Path);
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}
