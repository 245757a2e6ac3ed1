using System.Text;
using System.Text.Json;
using ChatForge.Engine.Training;
using ChatForge.Tokenizer;

namespace ChatForge.Data.Build;

public sealed record TokenSplitStats(int Documents, long Bytes, long Tokens, IReadOnlyList<string> Shards)
{
    public double BytesPerToken => Tokens == 0 ? 0 : (double)Bytes / Tokens;
}

public sealed record TokenManifest(string Tokenizer, int VocabSize, int EndOfTextId, long ShardTokens, Dictionary<string, TokenSplitStats> Splits);

/// <summary>
/// `data tokenize`: every corpus document encoded as ids + &lt;|endoftext|&gt; into tokens/{train,val}/NNN.bin
/// (ChatForge.Engine TokenShard format), plus tokens/manifest.json with the UTF-8 bytes and tokens of each split, so
/// bits per byte = loss_nats × tokens / (bytes × ln 2).
/// </summary>
public static class CorpusTokenizer
{
    public const long DefaultShardTokens = 50_000_000;

    public static TokenManifest Run(DataPaths paths, string tokenizerFolder, Action<string> log, long shardTokens = DefaultShardTokens)
    {
        var tokenizer = ChatTokenizer.Load(tokenizerFolder);
        var splits = new Dictionary<string, TokenSplitStats>();
        foreach (var split in new[] { "train", "val" })
        {
            var input = paths.CorpusSplit(split);
            var files = Directory.Exists(input) ? Directory.GetFiles(input, "*.txt").Order(StringComparer.Ordinal).ToList() : [];
            if (files.Count == 0) throw new Sources.DataSourceException($"{input}: no corpus shards; run `data build` first.");
            var output = Path.Combine(paths.Tokens, split);
            if (Directory.Exists(output)) Directory.Delete(output, true);
            Directory.CreateDirectory(output);

            var buffer = new List<int>(1 << 20);
            var shards = new List<string>();
            int documents = 0; long bytes = 0, tokens = 0;
            void Flush()
            {
                if (buffer.Count == 0) return;
                var path = Path.Combine(output, $"{shards.Count:000}.bin");
                TokenShard.Write(path, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(buffer), tokenizer.VocabSize);
                shards.Add(Path.GetRelativePath(paths.Tokens, path));
                buffer.Clear();
            }
            foreach (var file in files)
            {
                // Documents are encoded in parallel batches; order is kept so shards are reproducible.
                foreach (var batch in CorpusBuilder.ReadDocuments(file).Chunk(2048))
                {
                    var encoded = new int[batch.Length][];
                    Parallel.For(0, batch.Length, i => encoded[i] = tokenizer.EncodeDocument(batch[i]));
                    for (int i = 0; i < batch.Length; i++)
                    {
                        buffer.AddRange(encoded[i]);
                        bytes += Encoding.UTF8.GetByteCount(batch[i]);
                        tokens += encoded[i].Length;
                        documents++;
                    }
                    if (buffer.Count >= shardTokens) Flush();
                }
                log($"{split}: {Path.GetFileName(file)} done, {documents} documents, {tokens} tokens so far");
            }
            Flush();
            splits[split] = new TokenSplitStats(documents, bytes, tokens, shards);
            log($"{split}: {documents} documents, {bytes / 1e6:F1} MB, {tokens / 1e6:F2}M tokens, {(double)bytes / tokens:F2} bytes/token");
        }
        var manifest = new TokenManifest(Path.GetFullPath(tokenizerFolder), tokenizer.VocabSize, tokenizer.EndOfTextId, shardTokens, splits);
        AtomicFile.WriteAllText(Path.Combine(paths.Tokens, "manifest.json"), JsonSerializer.Serialize(manifest, new JsonSerializerOptions(Jsonl.Options) { WriteIndented = true }));
        return manifest;
    }
}
