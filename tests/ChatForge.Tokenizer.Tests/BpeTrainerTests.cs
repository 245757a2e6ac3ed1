using System.Text;
using System.Text.RegularExpressions;

namespace ChatForge.Tokenizer.Tests;

public sealed class BpeTrainerTests
{
    /// <summary>
    /// Textbook BPE, written for clarity and nothing else: recount every pair of every chunk before each
    /// merge, take the most frequent (ties: smallest (left, right) ids), merge it left to right everywhere.
    /// </summary>
    private static (List<byte[]> Ranks, List<(int, int, int)> Merges) NaiveBpe(IEnumerable<string> documents, string pattern, int targetRanks, long minFrequency)
    {
        var regex = new Regex(pattern);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string doc in documents)
            foreach (Match m in regex.Matches(doc))
                counts[m.Value] = counts.GetValueOrDefault(m.Value) + 1;
        var words = counts.Select(kv => (Symbols: Encoding.UTF8.GetBytes(kv.Key).Select(b => (int)b).ToList(), Count: kv.Value)).ToList();
        var ranks = Enumerable.Range(0, 256).Select(b => new[] { (byte)b }).ToList();
        var merges = new List<(int, int, int)>();
        while (ranks.Count < targetRanks)
        {
            var pairs = new Dictionary<(int, int), long>();
            foreach (var (symbols, count) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    pairs[(symbols[i], symbols[i + 1])] = pairs.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
            if (pairs.Count == 0) break;
            var best = pairs.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1).ThenBy(p => p.Key.Item2).First();
            if (best.Value < minFrequency) break;
            var (a, b) = best.Key;
            byte[] bytes = [.. ranks[a], .. ranks[b]];
            int id = ranks.FindIndex(r => r.AsSpan().SequenceEqual(bytes));
            if (id < 0) { id = ranks.Count; ranks.Add(bytes); }
            merges.Add((a, b, id));
            foreach (var (symbols, _) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    if (symbols[i] == a && symbols[i + 1] == b) { symbols[i] = id; symbols.RemoveAt(i + 1); }
        }
        return (ranks, merges);
    }

    public static TheoryData<string, string[]> Corpora => new()
    {
        { "bilingual", [TestText.Corpus(seed: 3, sentences: 150)] },
        { "repeats", ["aaaaaaaaaaaaaaaaaaaaa aaaa aaa aaaaaaaa", "abababababab ab abab aba bab", "的的的的的 的的 的"] },
        { "documents", ["Hello world.\n\nHello again, world!", "你好，世界。你好世界！", "def f(x):\n    return x\n"] },
    };

    [Theory]
    [MemberData(nameof(Corpora))]
    public void Merges_match_a_naive_reference_implementation(string name, string[] documents)
    {
        foreach (string pattern in new[] { PreSplitPatterns.Default, PreSplitPatterns.HanPieces(2), PreSplitPatterns.HanRuns })
        {
            var expected = NaiveBpe(documents, pattern, targetRanks: 256 + 150, minFrequency: 2);
            var actual = BpeTrainer.Train(documents, new BpeTrainerOptions { VocabSize = 256 + 150 + 16, Pattern = pattern, MinFrequency = 2, Threads = 2 });
            Assert.True(expected.Merges.Count > 5, $"{name}: the reference made only {expected.Merges.Count} merges");
            Assert.Equal(expected.Merges, actual.Merges);
            Assert.Equal(expected.Ranks.Count, actual.Ranks.Count);
            for (int i = 0; i < expected.Ranks.Count; i++) Assert.Equal(expected.Ranks[i], actual.Ranks[i]);
        }
    }

    [Fact]
    public void Same_input_gives_the_same_ranks_whatever_the_thread_count()
    {
        string[] docs = Enumerable.Range(0, 40).Select(i => TestText.Corpus(seed: 100 + i, sentences: 60)).ToArray();
        var one = BpeTrainer.Train(docs, new BpeTrainerOptions { VocabSize = 600, Threads = 1 });
        var two = BpeTrainer.Train(docs, new BpeTrainerOptions { VocabSize = 600, Threads = 2 });
        var again = BpeTrainer.Train(docs, new BpeTrainerOptions { VocabSize = 600, Threads = 2 });
        Assert.Equal(584, one.Ranks.Count);
        Assert.Equal(TiktokenRankFile.Format(one.Ranks), TiktokenRankFile.Format(two.Ranks));
        Assert.Equal(TiktokenRankFile.Format(one.Ranks), TiktokenRankFile.Format(again.Ranks));
    }

    [Fact]
    public void Vocabulary_is_exactly_the_requested_size_and_ends_with_the_special_slots()
    {
        var tokenizer = BpeTrainer.Train([TestText.Corpus(seed: 8, sentences: 2000)], new BpeTrainerOptions { VocabSize = 1000, SpecialTokenSlots = 20 }).ToTokenizer();
        Assert.Equal(1000, tokenizer.VocabSize);
        Assert.Equal(980, tokenizer.RankCount);
        Assert.Equal(20, tokenizer.SpecialTokenIds.Count);
        Assert.Equal(999, tokenizer.SpecialTokenIds["<|reserved_16|>"]);
    }

    [Fact]
    public void Training_stops_when_no_pair_is_frequent_enough()
    {
        var result = BpeTrainer.Train(["abc abc xyz"], new BpeTrainerOptions { VocabSize = 5000, MinFrequency = 2 });
        // " abc" is two chunks' worth: "abc" (x1) and " abc" (x1) share "bc" (x2), then "abc"… only pairs seen twice merge.
        Assert.All(result.Merges, m => Assert.True(m.Result >= 256));
        Assert.True(result.Ranks.Count < 300);
        Assert.Equal(result.Ranks.Count, result.ToTokenizer().RankCount);
    }

    [Fact]
    public void Merged_tokens_that_spell_existing_bytes_reuse_the_existing_rank()
    {
        var result = BpeTrainer.Train(Enumerable.Repeat("abc ab bc abc", 3), new BpeTrainerOptions { VocabSize = 400, MinFrequency = 1 });
        var spelled = result.Ranks.Select(Convert.ToHexString).ToList();
        Assert.Equal(spelled.Count, spelled.Distinct().Count());
    }

    [Fact]
    public void A_pattern_that_leaves_text_unmatched_is_an_error()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => BpeTrainer.Train(["abc 123"], new BpeTrainerOptions { Pattern = "[a-z]+", VocabSize = 300 }));
        Assert.Contains("leaves text unmatched", ex.Message);
    }

    [Fact]
    public void Bad_options_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BpeTrainer.Train(["a"], new BpeTrainerOptions { VocabSize = 200 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => BpeTrainer.Train(["a"], new BpeTrainerOptions { SpecialTokenSlots = 2 }));
        Assert.Throws<ArgumentException>(() => BpeTrainer.Train(["a"], new BpeTrainerOptions { Pattern = "(" }));
        Assert.Throws<InvalidOperationException>(() => BpeTrainer.Train([], new BpeTrainerOptions()));
    }

    [Fact]
    public void Trains_from_files_and_folders()
    {
        string folder = Directory.CreateTempSubdirectory("chatforge-corpus-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(folder, "shards"));
            File.WriteAllText(Path.Combine(folder, "shards", "a.txt"), TestText.Corpus(seed: 1, sentences: 500));
            File.WriteAllText(Path.Combine(folder, "shards", "b.txt"), TestText.Corpus(seed: 2, sentences: 500));
            File.WriteAllText(Path.Combine(folder, "shards", "ignored.bin"), "\0\0\0");
            var fromFolder = BpeTrainer.TrainFromFiles([folder], new BpeTrainerOptions { VocabSize = 600 });
            var fromDocs = BpeTrainer.Train([TestText.Corpus(seed: 1, sentences: 500), TestText.Corpus(seed: 2, sentences: 500)], new BpeTrainerOptions { VocabSize = 600 });
            Assert.Equal(TiktokenRankFile.Format(fromDocs.Ranks), TiktokenRankFile.Format(fromFolder.Ranks));

            var ex = Assert.Throws<FileNotFoundException>(() => BpeTrainer.TrainFromFiles([Path.Combine(folder, "missing.txt")], new BpeTrainerOptions()));
            Assert.Contains("missing.txt", ex.Message);
            Directory.CreateDirectory(Path.Combine(folder, "empty"));
            Assert.Throws<FileNotFoundException>(() => BpeTrainer.TrainFromFiles([Path.Combine(folder, "empty")], new BpeTrainerOptions()));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}

public sealed class CorpusReaderTests
{
    [Fact]
    public void Blocks_concatenate_to_the_file_and_end_after_blank_lines()
    {
        string file = Path.GetTempFileName();
        try
        {
            var sb = new StringBuilder();
            var random = new Random(4);
            while (sb.Length < 3 * 4096) sb.Append(TestText.RandomString(random, 200)).Append("\n\n");
            File.WriteAllText(file, sb.ToString());
            var blocks = CorpusReader.ReadBlocks([file], blockChars: 4096).ToList();
            Assert.True(blocks.Count >= 3);
            Assert.Equal(sb.ToString(), string.Concat(blocks));
            Assert.All(blocks, b => Assert.EndsWith("\n\n", b));
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void A_giant_line_is_cut_between_characters_never_inside_a_surrogate_pair()
    {
        string file = Path.GetTempFileName();
        try
        {
            string line = string.Concat(Enumerable.Repeat("a😀", 4096));
            File.WriteAllText(file, line);
            var blocks = CorpusReader.ReadBlocks([file], blockChars: 4094).ToList();
            Assert.True(blocks.Count >= 3);
            Assert.Equal(line, string.Concat(blocks));
            Assert.All(blocks, b => Assert.False(char.IsHighSurrogate(b[^1])));
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void Invalid_utf8_is_read_as_replacement_characters()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(file, [0x61, 0xFF, 0x62, 0xE4, 0xBD]);
            Assert.Equal("a\uFFFDb\uFFFD", string.Concat(CorpusReader.ReadBlocks([file])));
        }
        finally { File.Delete(file); }
    }
}
