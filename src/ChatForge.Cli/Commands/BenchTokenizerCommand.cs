using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using ChatForge.Tokenizer;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `chatforge bench tokenizer`: times BPE training (MB, seconds, merges/s) and, given held-out texts,
/// the trained tokenizer's bytes per token; one JSON object per run. Used to choose how Han text is pre-split.
/// </summary>
public sealed class BenchTokenizerCommand : ICliCommand
{
    public string? Group => "bench";

    public Command Build()
    {
        var input = new Option<string[]>("--input") { Description = "Training text files or folders.", Required = true, AllowMultipleArgumentsPerToken = true };
        var vocabSize = new Option<int>("--vocab-size") { DefaultValueFactory = _ => 16384 };
        var pattern = new Option<string>("--pattern") { Description = "Named pattern (default, han-runs, han-runs-punct, han-1 … han-4) or a regex.", DefaultValueFactory = _ => "default" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var heldoutEnglish = new Option<string?>("--heldout-en") { Description = "Held-out English text for bytes/token." };
        var heldoutChinese = new Option<string?>("--heldout-zh") { Description = "Held-out Chinese text for bytes/token." };
        var output = new Option<string?>("--out") { Description = "Also save the trained tokenizer here." };

        var command = new Command("tokenizer", "Benchmark BPE tokenizer training (prints JSON).");
        foreach (var o in new Option[] { input, vocabSize, pattern, threads, heldoutEnglish, heldoutChinese, output }) command.Options.Add(o);
        command.SetAction((parse, cancellationToken) =>
        {
            string patternName = parse.GetValue(pattern)!;
            var options = new BpeTrainerOptions
            {
                VocabSize = parse.GetValue(vocabSize),
                Pattern = PreSplitPatterns.FromName(patternName),
                Threads = parse.GetValue(threads),
                Progress = ProgressPrinter.Create(Console.Error),
            };
            var files = CorpusReader.ExpandInputs(parse.GetValue(input)!);
            long bytes = files.Sum(f => new FileInfo(f).Length);
            var clock = Stopwatch.StartNew();
            var result = BpeTrainer.TrainFromFiles(files, options, cancellationToken);
            double seconds = clock.Elapsed.TotalSeconds;
            var tokenizer = result.ToTokenizer();
            if (parse.GetValue(output) is string folder) tokenizer.Save(folder);

            double? BytesPerToken(string? path)
            {
                if (path is null) return null;
                string text = File.ReadAllText(path, Encoding.UTF8);
                return Math.Round(TokenizerComparison.Measure("ours", tokenizer.VocabSize, t => tokenizer.Encode(t).Length, path, text).BytesPerToken, 4);
            }

            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "tokenizer_train",
                pattern = patternName,
                mb = Math.Round(bytes / 1e6, 2),
                vocab_size = tokenizer.VocabSize,
                merges = result.Merges.Count,
                threads = options.Threads,
                distinct_chunks = result.DistinctChunks,
                seconds = Math.Round(seconds, 2),
                count_seconds = Math.Round(result.CountSeconds, 2),
                merge_seconds = Math.Round(result.MergeSeconds, 2),
                count_mb_per_s = Math.Round(bytes / 1e6 / result.CountSeconds, 2),
                merges_per_s = Math.Round(result.Merges.Count / result.MergeSeconds, 1),
                heldout_en_bytes_per_token = BytesPerToken(parse.GetValue(heldoutEnglish)),
                heldout_zh_bytes_per_token = BytesPerToken(parse.GetValue(heldoutChinese)),
            }));
            return Task.FromResult(0);
        });
        return command;
    }
}
