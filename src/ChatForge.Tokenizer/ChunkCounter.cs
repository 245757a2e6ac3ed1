using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace ChatForge.Tokenizer;

/// <summary>
/// First phase of BPE training: pre-split every block of text with the pattern and count how often each
/// distinct chunk occurs. Blocks are spread over the worker threads, each counting into its own
/// dictionary (no locks on the hot path); the dictionaries are summed at the end.
/// </summary>
internal static class ChunkCounter
{
    public static Dictionary<string, long> Count(IEnumerable<string> blocks, Regex pattern, int threads, CancellationToken cancellationToken)
    {
        var partials = new ConcurrentBag<Dictionary<string, long>>();
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads), CancellationToken = cancellationToken };
        try
        {
            // NoBuffering: each worker takes one block at a time, so two workers never wait on one big chunk of blocks.
            Parallel.ForEach(
                Partitioner.Create(blocks, EnumerablePartitionerOptions.NoBuffering),
                options,
                () => new Dictionary<string, long>(StringComparer.Ordinal),
                (block, _, counts) => { CountBlock(block, pattern, counts); return counts; },
                partials.Add);
        }
        catch (AggregateException ex)
        {
            // Callers get the first real error (an unreadable file, a pattern with gaps), not a wrapper.
            ExceptionDispatchInfo.Throw(ex.Flatten().InnerExceptions[0]);
        }

        Dictionary<string, long>? total = null;
        foreach (var part in partials.OrderByDescending(p => p.Count))
        {
            if (total is null) { total = part; continue; }
            foreach (var (chunk, n) in part)
                CollectionsMarshal.GetValueRefOrAddDefault(total, chunk, out _) += n;
        }
        return total ?? new Dictionary<string, long>(StringComparer.Ordinal);
    }

    /// <summary>Counts the chunks of one block; throws if the pattern leaves any character unmatched (it would be lost).</summary>
    public static void CountBlock(string block, Regex pattern, Dictionary<string, long> counts)
    {
        block = TextSanitizer.ReplaceLoneSurrogates(block);
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        ReadOnlySpan<char> text = block;
        int covered = 0;
        foreach (ValueMatch m in pattern.EnumerateMatches(text))
        {
            if (m.Index != covered) throw UncoveredText(text, covered, pattern);
            if (m.Length == 0) continue;
            CollectionsMarshal.GetValueRefOrAddDefault(lookup, text.Slice(m.Index, m.Length), out _)++;
            covered = m.Index + m.Length;
        }
        if (covered != text.Length) throw UncoveredText(text, covered, pattern);
    }

    private static InvalidOperationException UncoveredText(ReadOnlySpan<char> text, int at, Regex pattern) =>
        new($"The pre-split pattern leaves text unmatched (U+{(int)text[at]:X4} near \"{text.Slice(Math.Max(0, at - 10), Math.Min(20, text.Length - Math.Max(0, at - 10)))}\"); " +
            $"every character must belong to some chunk or it could not be encoded. Pattern: {pattern}");
}
