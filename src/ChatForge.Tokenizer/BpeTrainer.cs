using System.Diagnostics;

namespace ChatForge.Tokenizer;

public sealed record BpeTrainerOptions
{
    /// <summary>Total vocabulary: ranks (256 bytes + merges) plus <see cref="SpecialTokenSlots"/>.</summary>
    public int VocabSize { get; init; } = 16384;
    /// <summary>Ids kept after the ranks for &lt;|endoftext|&gt;, &lt;|im_start|&gt;, &lt;|im_end|&gt; and reserved tokens.</summary>
    public int SpecialTokenSlots { get; init; } = SpecialTokens.DefaultSlots;
    public string Pattern { get; init; } = PreSplitPatterns.Default;
    /// <summary>Stop merging when the most frequent pair occurs fewer times than this (the vocabulary then comes out smaller).</summary>
    public long MinFrequency { get; init; } = 2;
    /// <summary>Threads that pre-split and count the text (the merge phase is sequential).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    public Action<BpeTrainingProgress>? Progress { get; init; }
}

/// <param name="Phase">"count" (Done = input bytes read so far) or "merge" (Done = merges made, Total = merges wanted).</param>
public readonly record struct BpeTrainingProgress(string Phase, long Done, long Total);

public sealed class BpeTrainingResult
{
    /// <summary>Token bytes by rank (rank = id): the 256 single bytes, then the merged tokens in merge order.</summary>
    public required IReadOnlyList<byte[]> Ranks { get; init; }
    /// <summary>Every merge made, in order, as ids; Result may repeat an earlier token when two merges spell the same bytes.</summary>
    public required IReadOnlyList<(int Left, int Right, int Result)> Merges { get; init; }
    public required string Pattern { get; init; }
    public required int SpecialTokenSlots { get; init; }
    public long InputChars { get; init; }
    public long Chunks { get; init; }
    public int DistinctChunks { get; init; }
    public double CountSeconds { get; init; }
    public double MergeSeconds { get; init; }

    /// <summary>The trained tokenizer, ready to encode (encoding goes through Microsoft.ML.Tokenizers).</summary>
    public ChatTokenizer ToTokenizer() => ChatTokenizer.Create(Ranks, Pattern, SpecialTokenSlots);
}

/// <summary>
/// Byte-level BPE training: (1) pre-split the text with a regex and count distinct chunks on all cores
/// (<see cref="ChunkCounter"/>), (2) merge the most frequent pairs over the distinct chunks with
/// incrementally updated pair counts and a priority queue (<see cref="BpeMerger"/>).
/// The result is written as a tiktoken rank file by <see cref="ChatTokenizer.Save"/>.
/// </summary>
public static class BpeTrainer
{
    /// <summary>Trains on UTF-8 text files; folders contribute their *.txt files (see <see cref="CorpusReader"/>).</summary>
    public static BpeTrainingResult TrainFromFiles(IEnumerable<string> inputs, BpeTrainerOptions options, CancellationToken cancellationToken = default)
    {
        var files = CorpusReader.ExpandInputs(inputs);
        long totalBytes = files.Sum(f => new FileInfo(f).Length);
        long readBytes = 0;
        var blocks = CorpusReader.ReadBlocks(files, n =>
        {
            readBytes += n;
            options.Progress?.Invoke(new BpeTrainingProgress("count", readBytes, totalBytes));
        });
        return Train(blocks, options, cancellationToken);
    }

    /// <summary>Trains on a stream of documents (each one pre-split on its own; chunks never span two documents).</summary>
    public static BpeTrainingResult Train(IEnumerable<string> documents, BpeTrainerOptions options, CancellationToken cancellationToken = default)
    {
        Validate(options);
        var pattern = PreSplitPatterns.Compile(options.Pattern);
        var clock = Stopwatch.StartNew();

        long chars = 0;
        var counted = documents.Select(d => { Interlocked.Add(ref chars, d.Length); return d; });
        var chunks = ChunkCounter.Count(counted, pattern, options.Threads, cancellationToken);
        if (chunks.Count == 0) throw new InvalidOperationException("The training text is empty.");
        double countSeconds = clock.Elapsed.TotalSeconds;

        clock.Restart();
        var merger = new BpeMerger(chunks);
        long totalChunks = chunks.Values.Sum();
        int distinct = chunks.Count;
        chunks = null!; // the merger holds its own copy; let the strings go
        int targetRanks = options.VocabSize - options.SpecialTokenSlots;
        long mergesWanted = targetRanks - 256;
        var merges = merger.Run(targetRanks, options.MinFrequency, done =>
        {
            if (options.Progress is not null && (done % 256 == 0 || done == mergesWanted))
                options.Progress(new BpeTrainingProgress("merge", done, mergesWanted));
        }, cancellationToken);

        return new BpeTrainingResult
        {
            Ranks = merger.Tokens,
            Merges = merges,
            Pattern = options.Pattern,
            SpecialTokenSlots = options.SpecialTokenSlots,
            InputChars = chars,
            Chunks = totalChunks,
            DistinctChunks = distinct,
            CountSeconds = countSeconds,
            MergeSeconds = clock.Elapsed.TotalSeconds,
        };
    }

    private static void Validate(BpeTrainerOptions o)
    {
        if (o.SpecialTokenSlots < SpecialTokens.Required.Count)
            throw new ArgumentOutOfRangeException(nameof(o.SpecialTokenSlots), o.SpecialTokenSlots, $"At least {SpecialTokens.Required.Count} special token slots are needed ({string.Join(", ", SpecialTokens.Required)}).");
        if (o.VocabSize < 256 + o.SpecialTokenSlots)
            throw new ArgumentOutOfRangeException(nameof(o.VocabSize), o.VocabSize, $"The vocabulary must hold the 256 byte tokens and {o.SpecialTokenSlots} special slots.");
        if (o.Threads < 1) throw new ArgumentOutOfRangeException(nameof(o.Threads), o.Threads, "At least one thread.");
        if (o.MinFrequency < 1) throw new ArgumentOutOfRangeException(nameof(o.MinFrequency), o.MinFrequency, "Minimum pair frequency must be at least 1.");
    }
}
