using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace ChatForge.Training.Report;

/// <summary>
/// Writes &lt;model&gt;/REPORT.md from a recipe's stages.json and the metrics.jsonl of each training run: the model
/// config, data sizes, time per stage, every metric per stage (so "before" and "after" a stage are adjacent
/// columns), per-task accuracy in both languages, and PNG plots of the loss and reward curves (ScottPlot).
/// </summary>
public static class ReportCard
{
    /// <summary>Stages whose output is a run folder with a metrics.jsonl, and the curve to plot from it.</summary>
    static readonly (string Stage, string Key, string Title, string File)[] Curves =
    [
        ("pretrain", "loss", "Pretraining loss", "pretrain-loss.png"),
        ("sft", "loss", "SFT loss (assistant tokens)", "sft-loss.png"),
        ("rm", "loss", "Reward-model ranking loss", "rm-loss.png"),
        ("dpo", "loss", "DPO loss", "dpo-loss.png"),
        ("ppo", "mean_reward", "PPO mean reward per iteration", "ppo-reward.png"),
        ("ppo", "kl", "PPO KL(actor‖reference) per answer", "ppo-kl.png"),
    ];

    /// <param name="evaluations">Model name (pretrain, sft, ppo, dpo) → flat metrics, in stage order.</param>
    /// <param name="policy">The model whose weights the folder holds (ppo, dpo or sft), named at the top.</param>
    public static string Write(string modelDirectory, StagesFile stages, IReadOnlyList<(string Model, Dictionary<string, double> Metrics)> evaluations,
        string? configJson = null, string? policy = null)
    {
        Directory.CreateDirectory(modelDirectory);
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine("# Model report card").AppendLine();
        md.AppendLine(inv, $"Generated {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC from `{stages.Path}`.").AppendLine();
        if (policy is not null) md.AppendLine(inv, $"The weights in this folder are the **{policy}** model (recipe `final_policy`).").AppendLine();

        if (configJson is not null)
            md.AppendLine("## Config").AppendLine().AppendLine("```json").AppendLine(configJson.Trim()).AppendLine("```").AppendLine();

        // Packaging is running while this is written: its record, if any, is the previous run's.
        var finished = stages.Stages.Where(s => s.Name != "package").ToList();
        md.AppendLine("## Stages").AppendLine().AppendLine("| stage | time | output | details |").AppendLine("|---|---:|---|---|");
        foreach (var s in finished)
            md.AppendLine(inv, $"| {s.Name} | {Duration(s.Seconds)}{(s.Segments is { Count: > 1 } g ? $" ({g.Count} segments)" : "")} | `{s.Output}` | {Details(s.Details)} |");
        md.AppendLine(inv, $"| **total** | {Duration(finished.Sum(s => s.Seconds))} | | |").AppendLine();

        var trainingMetrics = finished.Where(s => s.Metrics.Count > 0 && s.Name != "eval").ToList();
        if (trainingMetrics.Count > 0)
        {
            md.AppendLine("## Training metrics (end of each stage)").AppendLine();
            foreach (var s in trainingMetrics)
                md.AppendLine(inv, $"- **{s.Name}**: {string.Join(", ", s.Metrics.Select(kv => $"{kv.Key} {Format(kv.Value)}"))}");
            md.AppendLine();
        }

        if (evaluations.Count > 0)
        {
            md.AppendLine("## Evaluation after each stage").AppendLine();
            md.AppendLine("Same held-out prompts, greedy answers. Columns left to right are the model before and after each stage.").AppendLine();
            var keys = evaluations.SelectMany(e => e.Metrics.Keys).Where(k => !k.Contains('/')).Distinct().ToList();
            md.AppendLine("| metric | " + string.Join(" | ", evaluations.Select(e => e.Model)) + " |");
            md.AppendLine("|---|" + string.Concat(evaluations.Select(_ => "---:|")));
            foreach (var k in keys)
                md.AppendLine($"| {k} | " + string.Join(" | ", evaluations.Select(e => e.Metrics.TryGetValue(k, out var v) ? Format(v) : "–")) + " |");
            md.AppendLine();

            var tasks = evaluations.SelectMany(e => e.Metrics.Keys).Where(k => k.StartsWith("acc/", StringComparison.Ordinal))
                .Select(k => k.Split('/')).Select(p => (Task: p[1], Lang: p[2])).Distinct().ToList();
            if (tasks.Count > 0)
            {
                md.AppendLine("## Per-task accuracy (held-out facts, both languages)").AppendLine();
                var langs = tasks.Select(t => t.Lang).Distinct().Order(StringComparer.Ordinal).ToList();
                var columns = evaluations.SelectMany(e => langs.Select(l => (e.Model, Lang: l))).ToList();
                md.AppendLine("| task | " + string.Join(" | ", columns.Select(c => $"{c.Model} {c.Lang}")) + " |");
                md.AppendLine("|---|" + string.Concat(columns.Select(_ => "---:|")));
                foreach (var task in tasks.Select(t => t.Task).Distinct().Order(StringComparer.Ordinal))
                    md.AppendLine($"| {task} | " + string.Join(" | ", columns.Select(c =>
                        evaluations.First(e => e.Model == c.Model).Metrics.TryGetValue($"acc/{task}/{c.Lang}", out var v) ? (v * 100).ToString("0", inv) + "%" : "–")) + " |");
                md.AppendLine();
            }
        }

        if (evaluations.Any(e => e.Metrics.ContainsKey("followup_accuracy"))) Followups(md, evaluations);
        RankPairs(md, evaluations);

        var plots = new List<(string Title, string File)>();
        foreach (var (stage, key, title, file) in Curves)
        {
            var record = stages.Find(stage);
            if (record is null) continue;
            var points = ReadCurve(Path.Combine(record.Output, "metrics.jsonl"), key);
            if (points.Count < 2) continue;
            Plot(points, title, key, Path.Combine(modelDirectory, file));
            plots.Add((title, file));
        }
        if (plots.Count > 0)
        {
            md.AppendLine("## Curves").AppendLine();
            foreach (var (title, file) in plots) md.AppendLine($"![{title}]({file})").AppendLine();
        }
        string path = Path.Combine(modelDirectory, "REPORT.md");
        File.WriteAllText(path, md.ToString());
        return path;
    }

    /// <summary>
    /// Follow-up accuracy with the first turn and without it (the same question alone), per model and language,
    /// then per follow-up task as "with / without" cells.
    /// </summary>
    static void Followups(StringBuilder md, IReadOnlyList<(string Model, Dictionary<string, double> Metrics)> evaluations)
    {
        var inv = CultureInfo.InvariantCulture;
        string Percent(Dictionary<string, double> m, string key) => m.TryGetValue(key, out var v) ? (v * 100).ToString("0", inv) + "%" : "–";
        md.AppendLine("## Multi-turn follow-ups (answered from context)").AppendLine();
        md.AppendLine("Two-turn dialogues on held-out facts: the follow-up (\"And its capital?\") after the first question and its answer, " +
            "and the same follow-up asked alone, where only a guess can be right.").AppendLine();
        var langs = evaluations.SelectMany(e => e.Metrics.Keys).Where(k => k.StartsWith("followup_accuracy/", StringComparison.Ordinal))
            .Select(k => k.Split('/')[1]).Distinct().Order(StringComparer.Ordinal).ToList();
        md.AppendLine("| model | with context | without context | " + string.Join(" | ", langs.Select(l => $"with {l} | without {l}")) + " |");
        md.AppendLine("|---|---:|---:|" + string.Concat(langs.Select(_ => "---:|---:|")));
        foreach (var (model, m) in evaluations.Where(e => e.Metrics.ContainsKey("followup_accuracy")))
            md.AppendLine($"| {model} | {Percent(m, "followup_accuracy")} | {Percent(m, "followup_accuracy_without_context")} | " +
                string.Join(" | ", langs.Select(l => $"{Percent(m, $"followup_accuracy/{l}")} | {Percent(m, $"followup_accuracy_without_context/{l}")}")) + " |");
        md.AppendLine();
        var tasks = evaluations.SelectMany(e => e.Metrics.Keys).Where(k => k.StartsWith("followup/", StringComparison.Ordinal))
            .Select(k => k["followup/".Length..]).Distinct().Order(StringComparer.Ordinal).ToList();
        if (tasks.Count == 0) return;
        md.AppendLine("| follow-up (with / without context) | " + string.Join(" | ", evaluations.Select(e => e.Model)) + " |");
        md.AppendLine("|---|" + string.Concat(evaluations.Select(_ => "---:|")));
        foreach (var t in tasks)
            md.AppendLine($"| {t.Replace('/', ' ')} | " + string.Join(" | ", evaluations.Select(e =>
                e.Metrics.ContainsKey("followup/" + t) ? $"{Percent(e.Metrics, "followup/" + t)} / {Percent(e.Metrics, "followup_without_context/" + t)}" : "–")) + " |");
        md.AppendLine();
    }

    /// <summary>
    /// Held-out ranking accuracy by pair of ranks: the reward model's, and each model's own likelihood as a judge (the
    /// pairs that need the fact show whether a model knows it; the reward model should do at least as well).
    /// </summary>
    static void RankPairs(StringBuilder md, IReadOnlyList<(string Model, Dictionary<string, double> Metrics)> evaluations)
    {
        var inv = CultureInfo.InvariantCulture;
        var pairs = evaluations.SelectMany(e => e.Metrics.Keys).Where(k => k.StartsWith("rm_pair/", StringComparison.Ordinal) || k.StartsWith("likelihood_pair/", StringComparison.Ordinal))
            .Select(k => k[(k.IndexOf('/') + 1)..]).Distinct().Order(StringComparer.Ordinal).ToList();
        if (pairs.Count == 0) return;
        var rm = evaluations.FirstOrDefault(e => e.Metrics.Keys.Any(k => k.StartsWith("rm_pair/", StringComparison.Ordinal)));
        var judges = new List<(string Name, Dictionary<string, double> Metrics, string Prefix)>();
        if (rm.Metrics is not null) judges.Add(("reward model", rm.Metrics, "rm_pair/"));
        judges.AddRange(evaluations.Where(e => e.Metrics.Keys.Any(k => k.StartsWith("likelihood_pair/", StringComparison.Ordinal))).Select(e => ($"{e.Model} likelihood", e.Metrics, "likelihood_pair/")));
        md.AppendLine("## Held-out rankings by pair of ranks").AppendLine();
        md.AppendLine("\"1>2\" is the right answer above the near miss, \"1>3\" above another entry's answer, \"2>3\" the near miss above that; " +
            "later ranks are \"I don't know\" and an off-topic answer (docs/data.md). A likelihood row orders answers by that model's mean " +
            "log-probability per answer token, with no ranking training.").AppendLine();
        md.AppendLine("| judge | " + string.Join(" | ", pairs) + " |");
        md.AppendLine("|---|" + string.Concat(pairs.Select(_ => "---:|")));
        foreach (var (name, m, prefix) in judges)
            md.AppendLine($"| {name} | " + string.Join(" | ", pairs.Select(p => m.TryGetValue(prefix + p, out var v) ? v.ToString("0.00", inv) : "–")) + " |");
        md.AppendLine();
    }

    /// <summary>(step, value) of every metrics.jsonl line that has the key; a later line for the same step wins (resumed runs).</summary>
    public static List<(double Step, double Value)> ReadCurve(string metricsPath, string key)
    {
        var byStep = new SortedDictionary<double, double>();
        if (!File.Exists(metricsPath)) return [];
        foreach (var line in File.ReadLines(metricsPath))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? node;
            try { node = JsonNode.Parse(line); } catch (System.Text.Json.JsonException) { continue; } // a line cut by a crash
            if (node?[key] is JsonValue v && node["step"] is JsonValue s && v.TryGetValue(out double value) && double.IsFinite(value))
                byStep[s.GetValue<double>()] = value;
        }
        return byStep.Select(kv => (kv.Key, kv.Value)).ToList();
    }

    public static void Plot(IReadOnlyList<(double Step, double Value)> points, string title, string yLabel, string pngPath)
    {
        var plot = new ScottPlot.Plot();
        var xs = points.Select(p => p.Step).ToArray();
        var ys = points.Select(p => p.Value).ToArray();
        var line = plot.Add.Scatter(xs, ys);
        line.MarkerSize = points.Count > 60 ? 0 : 4;
        if (points.Count >= 20)
        {
            // A moving average makes the trend readable through per-step noise.
            int w = Math.Max(2, points.Count / 20);
            var smooth = ys.Select((_, i) => ys.Skip(Math.Max(0, i - w + 1)).Take(Math.Min(w, i + 1)).Average()).ToArray();
            var trend = plot.Add.Scatter(xs, smooth);
            trend.MarkerSize = 0;
            trend.LineWidth = 2;
            trend.LegendText = $"moving average ({w})";
            line.LegendText = yLabel;
            plot.ShowLegend();
        }
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel(yLabel);
        plot.SavePng(pngPath, 640, 400);
    }

    static string Details(JsonObject? details) =>
        details is null ? "" : string.Join(", ", details.Select(kv => $"{kv.Key} {kv.Value?.ToJsonString().Trim('"')}"));

    static string Format(double v) => Math.Abs(v) >= 1000 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.####", CultureInfo.InvariantCulture);

    static string Duration(double seconds) => seconds >= 3600 ? $"{seconds / 3600:F1} h" : seconds >= 60 ? $"{seconds / 60:F1} min" : $"{seconds:F1} s";
}
