using System.Text;

namespace ChatForge.Tokenizer.Tests;

public sealed class TokenizerFileTests(TrainedTokenizerFixture fixture) : IClassFixture<TrainedTokenizerFixture>, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("chatforge-tok-").FullName;
    private string RankPath => Path.Combine(_folder, ChatTokenizer.RankFileName);
    private string ConfigPath => Path.Combine(_folder, ChatTokenizer.ConfigFileName);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private TokenizerFileException LoadFails()
    {
        var ex = Assert.Throws<TokenizerFileException>(() => ChatTokenizer.Load(_folder));
        return ex;
    }

    private void EditRankLine(int line, Func<string, string> edit)
    {
        var lines = File.ReadAllLines(RankPath);
        lines[line - 1] = edit(lines[line - 1]);
        File.WriteAllText(RankPath, string.Join('\n', lines) + "\n");
    }

    [Fact]
    public void Save_then_load_gives_the_same_tokenizer()
    {
        fixture.Tokenizer.Save(_folder);
        var loaded = ChatTokenizer.Load(_folder);
        Assert.Equal(fixture.Tokenizer.VocabSize, loaded.VocabSize);
        Assert.Equal(fixture.Tokenizer.Pattern, loaded.Pattern);
        Assert.Equal(fixture.Tokenizer.SpecialTokenIds.OrderBy(t => t.Value), loaded.SpecialTokenIds.OrderBy(t => t.Value));
        var random = new Random(5);
        for (int i = 0; i < 50; i++)
        {
            string text = TestText.RandomString(random, 100);
            Assert.Equal(fixture.Tokenizer.Encode(text), loaded.Encode(text));
        }
        string json = File.ReadAllText(ConfigPath);
        Assert.Contains("\"version\": 1", json);
        Assert.Contains("\"<|im_end|>\": " + fixture.Tokenizer.ImEndId, json);
        Assert.Contains("\"vocab_size\": 2000", json);
        Assert.StartsWith("AA== 0\nAQ== 1\n", File.ReadAllText(RankPath));
    }

    [Fact]
    public void Missing_folder_or_files_are_named()
    {
        string nowhere = Path.Combine(_folder, "nope");
        var ex = Assert.Throws<TokenizerFileException>(() => ChatTokenizer.Load(nowhere));
        Assert.Contains(Path.Combine(nowhere, "tokenizer.tiktoken"), ex.Message);

        fixture.Tokenizer.Save(_folder);
        File.Delete(ConfigPath);
        ex = LoadFails();
        Assert.Equal(ConfigPath, ex.FilePath);
        Assert.Contains("not found", ex.Message);
    }

    [Theory]
    [InlineData("!!notbase64!! 300", "not valid base64")]
    [InlineData("YWJj", "expected \"<base64 token bytes> <rank>\"")]
    [InlineData("YWJj 301", "expected rank 299")]
    [InlineData("YWJj -5", "not a non-negative integer")]
    [InlineData("YWJj 299 extra", "expected \"<base64 token bytes> <rank>\"")]
    [InlineData("", "empty line")]
    public void Corrupted_rank_line_is_reported_with_file_and_line(string replacement, string problem)
    {
        fixture.Tokenizer.Save(_folder);
        EditRankLine(300, _ => replacement);
        var ex = LoadFails();
        Assert.Equal(RankPath, ex.FilePath);
        Assert.Equal(300, ex.Line);
        Assert.Contains("tokenizer.tiktoken, line 300", ex.Message);
        Assert.Contains(problem, ex.Message);
    }

    [Fact]
    public void Duplicate_token_bytes_name_both_lines()
    {
        fixture.Tokenizer.Save(_folder);
        EditRankLine(400, _ => "QQ== 399"); // "A", already rank 65 on line 66
        var ex = LoadFails();
        Assert.Equal(400, ex.Line);
        Assert.Contains("line 66", ex.Message);
    }

    [Fact]
    public void Rank_file_truncated_at_a_line_boundary_is_caught_by_the_vocabulary_size()
    {
        fixture.Tokenizer.Save(_folder);
        var lines = File.ReadAllLines(RankPath);
        File.WriteAllText(RankPath, string.Join('\n', lines.Take(1000)) + "\n");
        var ex = LoadFails();
        Assert.Equal(ConfigPath, ex.FilePath);
        Assert.Contains("vocab_size", ex.Message);
        Assert.Contains("1000 ranks", ex.Message);
        Assert.Equal(File.ReadAllLines(ConfigPath).ToList().FindIndex(l => l.Contains("vocab_size")) + 1, ex.Line);
    }

    [Fact]
    public void Rank_file_truncated_mid_line_names_the_last_line()
    {
        fixture.Tokenizer.Save(_folder);
        byte[] content = File.ReadAllBytes(RankPath);
        int cut = Array.LastIndexOf(content, (byte)' ', 5000);
        File.WriteAllBytes(RankPath, content[..cut]);
        var ex = LoadFails();
        Assert.Equal(RankPath, ex.FilePath);
        Assert.Equal(Encoding.UTF8.GetString(content[..cut]).Count(c => c == '\n') + 1, ex.Line);
    }

    [Fact]
    public void Rank_file_without_all_bytes_is_rejected()
    {
        File.WriteAllText(RankPath, "QQ== 0\nQg== 1\n");
        fixture.Tokenizer.Save(Path.Combine(_folder, "other"));
        File.Copy(Path.Combine(_folder, "other", ChatTokenizer.ConfigFileName), ConfigPath);
        var ex = LoadFails();
        Assert.Contains("byte 0x00 has no rank", ex.Message);
        Assert.Contains("tokenizer.tiktoken", ex.Message);
    }

    [Fact]
    public void Empty_or_binary_rank_file_is_rejected()
    {
        fixture.Tokenizer.Save(_folder);
        File.WriteAllBytes(RankPath, []);
        Assert.Contains("empty", LoadFails().Message);
        File.WriteAllBytes(RankPath, [0x41, 0x41, 0x3D, 0x3D, 0x20, 0x30, 0x0A, 0xFF, 0xFE]);
        var ex = LoadFails();
        Assert.Equal(2, ex.Line);
        Assert.Contains("UTF-8", ex.Message);
    }

    [Fact]
    public void Truncated_json_names_the_line()
    {
        fixture.Tokenizer.Save(_folder);
        string json = File.ReadAllText(ConfigPath);
        File.WriteAllText(ConfigPath, json[..json.IndexOf("<|im_end|>", StringComparison.Ordinal)]);
        var ex = LoadFails();
        Assert.Equal(ConfigPath, ex.FilePath);
        Assert.NotNull(ex.Line);
        Assert.Contains("not valid JSON", ex.Message);
    }

    [Theory]
    [InlineData("\"version\": 1", "\"version\": 2", "version 2 is not supported")]
    [InlineData("\"<|im_end|>\"", "\"<|im_stop|>\"", "<|im_end|> is missing")]
    [InlineData("\"vocab_size\": 2000", "\"vocab_size\": \"big\"", "vocab_size must be an integer")]
    [InlineData("\"vocab_size\": 2000", "\"vocab_size\": 2001", "vocab_size is 2001")]
    [InlineData("\"pattern\": \"", "\"pattern\": \"(unclosed", "Invalid pre-split pattern")]
    [InlineData("\"<|reserved_0|>\": 1987", "\"<|reserved_0|>\": 5", "id 5")]
    [InlineData("\"<|reserved_0|>\": 1987", "\"<|reserved_0|>\": 1984", "reuses id 1984")]
    public void Bad_json_values_name_the_file_and_line(string find, string replace, string problem)
    {
        fixture.Tokenizer.Save(_folder);
        string json = File.ReadAllText(ConfigPath);
        Assert.Contains(find, json);
        File.WriteAllText(ConfigPath, json.Replace(find, replace));
        var ex = LoadFails();
        Assert.Equal(ConfigPath, ex.FilePath);
        Assert.Contains(problem, ex.Message);
        string anchor = problem.Contains("is missing") ? "special_tokens" : replace.Split(':')[0].Trim('"', ' ');
        int expectedLine = File.ReadAllLines(ConfigPath).ToList().FindIndex(l => l.Contains(anchor)) + 1;
        Assert.Equal(expectedLine, ex.Line);
    }

    [Fact]
    public void Missing_json_field_is_named()
    {
        fixture.Tokenizer.Save(_folder);
        File.WriteAllText(ConfigPath, "{\"version\": 1, \"special_tokens\": {}, \"vocab_size\": 3}");
        Assert.Contains("missing \"pattern\"", LoadFails().Message);
    }
}
