using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using ChatForge.Tokenizer;

namespace ChatForge.Cli.Commands;

/// <summary>`chatforge tokenizer train`: trains a byte-level BPE tokenizer on text files and writes tokenizer.tiktoken + tokenizer.json.</summary>
public sealed class TokenizerTrainCommand : ICliCommand
{
    public string? Group => "tokenizer";

    public Command Build()
    {
        var input = new Option<string[]>("--input") { Description = "UTF-8 text files or folders (folders: every *.txt inside, recursively). Documents separated by blank lines or one per file.", Required = true, AllowMultipleArgumentsPerToken = true };
        var vocabSize = new Option<int>("--vocab-size") { Description = "Total vocabulary: 256 bytes + merges + special-token slots.", DefaultValueFactory = _ => 16384 };
        var output = new Option<string>("--out") { Description = "Folder to write tokenizer.tiktoken and tokenizer.json into.", Required = true };
        var pattern = new Option<string>("--pattern") { Description = "Pre-split regex, or a named one: default, han-runs, han-runs-punct, han-1 … han-4.", DefaultValueFactory = _ => "default" };
        var minFrequency = new Option<long>("--min-frequency") { Description = "Stop when the best pair occurs fewer times than this.", DefaultValueFactory = _ => 2 };
        var threads = new Option<int>("--threads") { Description = "Threads for pre-splitting and counting.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var specialSlots = new Option<int>("--special-slots") { Description = "Special-token ids after the ranks (<|endoftext|>, <|im_start|>, <|im_end|>, reserved).", DefaultValueFactory = _ => SpecialTokens.DefaultSlots };

        var command = new Command("train", "Train a byte-level BPE tokenizer on text files.");
        foreach (var o in new Option[] { input, vocabSize, output, pattern, minFrequency, threads, specialSlots }) command.Options.Add(o);
        command.SetAction((parse, cancellationToken) =>
        {
            var options = new BpeTrainerOptions
            {
                VocabSize = parse.GetValue(vocabSize),
                Pattern = PreSplitPatterns.FromName(parse.GetValue(pattern)!),
                MinFrequency = parse.GetValue(minFrequency),
                Threads = parse.GetValue(threads),
                SpecialTokenSlots = parse.GetValue(specialSlots),
                Progress = ProgressPrinter.Create(Console.Error),
            };
            try
            {
                var clock = Stopwatch.StartNew();
                var result = BpeTrainer.TrainFromFiles(parse.GetValue(input)!, options, cancellationToken);
                var tokenizer = result.ToTokenizer();
                string folder = parse.GetValue(output)!;
                tokenizer.Save(folder);
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    out_folder = Path.GetFullPath(folder),
                    vocab_size = tokenizer.VocabSize,
                    ranks = tokenizer.RankCount,
                    merges = result.Merges.Count,
                    requested_vocab_size = options.VocabSize,
                    input_chars = result.InputChars,
                    distinct_chunks = result.DistinctChunks,
                    count_seconds = Math.Round(result.CountSeconds, 2),
                    merge_seconds = Math.Round(result.MergeSeconds, 2),
                    total_seconds = Math.Round(clock.Elapsed.TotalSeconds, 2),
                }));
                if (tokenizer.VocabSize < options.VocabSize)
                    Console.Error.WriteLine($"note: the text ran out of pairs occurring {options.MinFrequency}+ times; the vocabulary is {tokenizer.VocabSize}, not {options.VocabSize}.");
                return Task.FromResult(0);
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or InvalidOperationException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return Task.FromResult(1);
            }
        });
        return command;
    }
}

/// <summary>Plain progress lines (Spectre's live progress hides itself when output is not a terminal).</summary>
internal static class ProgressPrinter
{
    public static Action<BpeTrainingProgress> Create(TextWriter writer)
    {
        var clock = Stopwatch.StartNew();
        double last = -10;
        return p =>
        {
            bool done = p.Done >= p.Total;
            if (!done && clock.Elapsed.TotalSeconds - last < 2) return;
            last = clock.Elapsed.TotalSeconds;
            string what = p.Phase == "count" ? $"read {p.Done / 1e6:F1}/{p.Total / 1e6:F1} MB" : $"merge {p.Done}/{p.Total}";
            writer.WriteLine($"[{clock.Elapsed.TotalSeconds,6:F1}s] {what}");
        };
    }
}
