using System.Text.Json;
using ChatForge.Data.Build;
using ChatForge.Engine.Training;
using ChatForge.Tokenizer;

namespace ChatForge.Data.Tests;

public class TokenizeTests
{
    [Fact]
    public void Corpus_shards_round_trip_through_token_shards()
    {
        var dir = Directory.CreateTempSubdirectory("cf-tok").FullName;
        try
        {
            var paths = new DataPaths(dir);
            var docs = new[] { "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。", "apple (n.): a fruit.", "第三篇" };
            foreach (var split in new[] { "train", "val" })
            {
                Directory.CreateDirectory(paths.CorpusSplit(split));
                File.WriteAllText(Path.Combine(paths.CorpusSplit(split), "000.txt"), string.Join("\n\n", docs) + "\n");
            }
            Assert.Equal(docs, CorpusBuilder.ReadDocuments(Path.Combine(paths.CorpusSplit("train"), "000.txt")));

            var tokenizerDir = Path.Combine(dir, "tok");
            ChatTokenizer.Create(Enumerable.Range(0, 256).Select(b => new[] { (byte)b }).ToList(), PreSplitPatterns.Default).Save(tokenizerDir);
            var tokenizer = ChatTokenizer.Load(tokenizerDir);
            var manifest = CorpusTokenizer.Run(paths, tokenizerDir, _ => { });

            long bytes = docs.Sum(d => (long)System.Text.Encoding.UTF8.GetByteCount(d));
            Assert.Equal(bytes, manifest.Splits["train"].Bytes);
            Assert.Equal(bytes + docs.Length, manifest.Splits["train"].Tokens); // byte-level: one token per byte + one <|endoftext|> per document
            // "第三篇" is Chinese too: Chinese documents are those with at least 25% Han characters.
            Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(docs[0]) + System.Text.Encoding.UTF8.GetByteCount(docs[2]) + 2, manifest.Splits["train"].ChineseTokens);
            using var shard = TokenShard.Open(Path.Combine(paths.Tokens, manifest.Splits["val"].Shards[0]));
            var ids = new int[shard.Count];
            shard.Read(0, ids);
            Assert.Equal(docs.Length, ids.Count(i => i == tokenizer.EndOfTextId));
            int end = Array.IndexOf(ids, tokenizer.EndOfTextId);
            Assert.Equal(docs[0], tokenizer.Decode(ids.AsSpan(0, end)));
            var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(paths.Tokens, "manifest.json")));
            Assert.Equal(bytes, json.RootElement.GetProperty("splits").GetProperty("train").GetProperty("bytes").GetInt64());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Missing_corpus_is_reported()
    {
        var dir = Directory.CreateTempSubdirectory("cf-tok").FullName;
        try
        {
            var tokenizerDir = Path.Combine(dir, "tok");
            ChatTokenizer.Create(Enumerable.Range(0, 256).Select(b => new[] { (byte)b }).ToList(), PreSplitPatterns.Default).Save(tokenizerDir);
            var e = Assert.Throws<ChatForge.Data.Sources.DataSourceException>(() => CorpusTokenizer.Run(new DataPaths(dir), tokenizerDir, _ => { }));
            Assert.Contains("corpus", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}

public class FactCorpusTests
{
    [Fact]
    public void Facts_are_repeated_in_turns_of_phrasings_in_differently_shuffled_blocks_and_leave_absent_words_out()
    {
        var knowledge = Fixtures.SyntheticKnowledge();
        var docs = new CorpusBuilder(new DataPaths(Path.GetTempPath()), knowledge, _ => { }).FactDocs().ToList();
        var lines = docs.SelectMany(d => d.Text.Split('\n')).ToList();
        var counts = lines.GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        // Every fact once per repetition, its phrasings in turn: each phrasing ⌊R/n⌋ or ⌈R/n⌉ times.
        void AssertInTurn(string[] phrasings)
        {
            int total = 0;
            foreach (var line in phrasings)
            {
                int n = counts.GetValueOrDefault(line);
                Assert.InRange(n, CorpusBuilder.FactRepeats / phrasings.Length, (CorpusBuilder.FactRepeats + phrasings.Length - 1) / phrasings.Length);
                total += n;
            }
            Assert.Equal(CorpusBuilder.FactRepeats, total);
        }
        Assert.All(knowledge.ZhWords, w => { AssertInTurn(FactPhrasings.WordMeaning(w)); AssertInTurn(FactPhrasings.WordFromGloss(w)); });
        Assert.Contains(counts.Keys, l => l.StartsWith($"{knowledge.ZhWords[0].Word}（{knowledge.ZhWords[0].Pinyin}）：")); // the phrasing earlier corpora used
        var english = knowledge.EnWords.ToDictionary(w => w.Word, _ => 0);
        foreach (var (line, n) in counts)
            foreach (var w in english.Keys)
                if (line.StartsWith(w + " (") || line.StartsWith($"\"{w}\" (") || line.StartsWith($"The word {w} means") || line.StartsWith(w + " — ")) english[w] += n;
        Assert.All(english, kv => Assert.Equal(CorpusBuilder.FactRepeats, kv.Value));
        Assert.All(knowledge.PoemDomain.Where(p => p.Author.Length > 0), p => AssertInTurn(FactPhrasings.PoemAuthor(p)));
        Assert.All(knowledge.Countries.Where(c => c.Capitals.Count > 0), c => Assert.Contains(lines, l => l.Contains($"The capital of {c.NameEn} is {c.Capitals[0]}")));
        Assert.Contains(lines, l => l == knowledge.Tang300[0].Lines[0]);
        // The corpus drops exact duplicates: no two blocks may be equal, or most repetitions would vanish.
        Assert.Equal(docs.Count, docs.Select(d => d.Text).Distinct().Count());
        Assert.Equal(docs.Count, docs.Select(d => d.Key).Distinct().Count());
        // Words held back for the "I don't know" evaluation stay out of the corpus.
        Assert.NotEmpty(knowledge.AbsentHeadwords);
        Assert.DoesNotContain(lines, l => knowledge.AbsentHeadwords.Any(a => l.StartsWith(a + "（") || l.Contains(": " + a + " (")));
    }
}
