using System.Diagnostics;
using System.Text.Json;
using ChatForge.Engine.Training;

namespace ChatForge.Data.Build;

/// <summary>`data build`: loads the sources once, then writes the corpus, the SFT dialogues, the rankings and the evaluation sets.</summary>
public static class DataBuild
{
    public static Dictionary<string, object> Run(DataPaths paths, bool corpus, bool dialogues, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        var knowledge = Knowledge.Load(paths, log);
        var report = new Dictionary<string, object>
        {
            ["domain"] = new
            {
                zhWords = knowledge.ZhWords.Count, enWords = knowledge.EnWords.Count, enAntonymWords = knowledge.EnAntonyms.Count,
                zhAntonymWords = knowledge.ZhAntonyms.Count, countries = knowledge.Countries.Count,
                countriesWithCapital = knowledge.Countries.Count(c => c.Capitals.Count > 0),
                capitalsInChinese = knowledge.Countries.Count(c => c.CapitalZh is not null), tang300 = knowledge.Tang300.Count,
                poemTaskPoems = knowledge.PoemDomain.Count, size = knowledge.Domain,
                absentWords = knowledge.AbsentWords.Count,
            },
        };
        if (corpus)
        {
            var builder = new CorpusBuilder(paths, knowledge, log);
            builder.Collect();
            var splits = builder.Write();
            report["corpus"] = new
            {
                sources = builder.Stats,
                splits = splits.ToDictionary(kv => kv.Key, kv => new { documents = kv.Value.Documents, bytes = kv.Value.Bytes, shards = kv.Value.Shards }),
            };
            log($"corpus: {string.Join(", ", splits.Select(kv => $"{kv.Key} {kv.Value.Documents} documents, {kv.Value.Bytes / 1e6:F1} MB"))} ({clock.Elapsed.TotalSeconds:F0} s)");
        }
        if (dialogues)
        {
            var written = ChatForge.Data.Dialogues.DialogueBuilder.BuildAll(paths, knowledge, log);
            report["dialogues"] = written;
        }
        report["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
        var old = File.Exists(paths.BuildReport) ? JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllText(paths.BuildReport)) : null;
        var merged = old?.ToDictionary(kv => kv.Key, kv => (object)kv.Value) ?? [];
        foreach (var (k, v) in report) merged[k] = v;
        AtomicFile.WriteAllText(paths.BuildReport, JsonSerializer.Serialize(merged, new JsonSerializerOptions(Jsonl.Options) { WriteIndented = true }));
        return report;
    }
}
