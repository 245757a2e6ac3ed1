using ChatForge.Cli.Bench;
using System.CommandLine;
using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Text.Json;
using ChatForge.Engine.Inference;
using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `bench decode`: prefill and KV-cache decode speed of a random-weight model, next to the machine's
/// memory-bandwidth bound (decode at small batch reads every weight once per step, so bytes/s ÷ weight
/// bytes is the ceiling on steps/s). Prints one JSON object. `--model` measures a model the user brings (a ChatForge
/// model folder, a Hugging Face folder or a GGUF file) instead of random weights.
/// </summary>
public sealed class BenchDecodeCommand : ICliCommand
{
    public string? Group => "bench";

    public Command Build()
    {
        var config = new Option<string>("--config") { Description = "Random-weight model: b (GPT-2 style, V 8192, d 512, 8 layers, 8 heads, context 1024), qwen2.5-0.5b (Qwen2.5-0.5B's shapes) or tiny.", DefaultValueFactory = _ => "b" };
        var modelPath = new Option<string?>("--model") { Description = "Measure this model instead: a ChatForge model folder, a Hugging Face folder (config.json + safetensors) or a .gguf file." };
        var batch = new Option<int>("--batch") { Description = "Sequences decoded together.", DefaultValueFactory = _ => 1 };
        var weights = new Option<string>("--weights") { Description = "Matmul weight format: auto (gguf for a .gguf model, else bf16), bf16, f32, int8 (per-row scales), q8_0, q4_0, q4_k, q6_k (ggml blocks, quantised from fp32) or gguf (a .gguf model's own blocks).", DefaultValueFactory = _ => "auto" };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length per sequence.", DefaultValueFactory = _ => 256 };
        var newTokens = new Option<int>("--new-tokens") { Description = "Tokens decoded per sequence.", DefaultValueFactory = _ => 128 };
        var kv = new Option<string>("--kv") { Description = "KV cache: auto (bf16 unless the weights are f32), bf16, int8 or f32.", DefaultValueFactory = _ => "auto" };
        var threads = new Option<int>("--threads") { Description = "Kernel threads (default: every core).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var reference = new Option<bool>("--reference") { Description = "Also run the PyTorch CPU reference (bench/reference/torch_bench.py, config b) in this run and report our/reference ratios." };
        var python = new Option<string>("--python") { Description = "Python with torch for --reference.", DefaultValueFactory = _ => ReferenceScript.DefaultPython };
        var versusBatch = new Option<int>("--versus-batch") { Description = "Also decode at this batch size, alternating with --batch for --rounds rounds, and report the median of the paired tokens/s ratios (single runs move ±20% on a shared machine)." };
        var rounds = new Option<int>("--rounds") { Description = "Rounds for --versus-batch.", DefaultValueFactory = _ => 5 };
        var command = new Command("decode", "KV-cache prefill and decode tokens/s against the memory-bandwidth bound (one JSON object).")
        {
            config, modelPath, batch, weights, promptTokens, newTokens, kv, threads, reference, python, versusBatch, rounds,
        };
        command.SetAction(parse =>
        {
            try { return Execute(parse); }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or NotSupportedException)
            {
                Console.Error.WriteLine($"bench decode: {e.Message}");
                return 2;
            }
        });
        return command;

        int Execute(ParseResult parse)
        {
            var path = parse.GetValue(modelPath);
            var configName = path is null ? parse.GetValue(config)! : Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
            var format = WeightFormats.ParseFor(parse.GetValue(weights)!, path ?? "");
            var (parameters, blocks) = path is null ? (RandomParameters(configName switch
            {
                "b" => ModelConfig.Gpt2Style(8192, 512, 8, 8, 1024),
                "qwen2.5-0.5b" => Qwen25HalfB,
                "tiny" => ModelConfig.Gpt2Style(256, 64, 2, 4, 512),
                _ => throw new ArgumentException($"--config: unknown config '{configName}' (expected b, qwen2.5-0.5b or tiny)."),
            }, seed: 1), null) : ModelFiles.Load(path, format);
            var modelConfig = parameters.Layout.Config;
            int b = parse.GetValue(batch), prompt = parse.GetValue(promptTokens), generate = parse.GetValue(newTokens);
            if (b <= 0) throw new ArgumentException($"--batch must be positive, got {b}.");
            if (prompt <= 0 || generate <= 0 || prompt + generate > modelConfig.ContextLength)
                throw new ArgumentException($"--prompt-tokens ({prompt}) and --new-tokens ({generate}) must be positive and fit the context ({modelConfig.ContextLength}).");
            KernelThreads.Count = parse.GetValue(threads);
            var kvFormat = KvCache.ParseFormat(parse.GetValue(kv)!, "--kv");
            var model = new InferenceModel(parameters, format, blocks);
            var result = Run(configName, model, kvFormat, b, prompt, generate);
            if (path is not null) result["model"] = Path.GetFullPath(path);
            if (parse.GetValue(versusBatch) is > 0 and var versus)
            {
                int roundCount = parse.GetValue(rounds);
                if (roundCount <= 0) throw new ArgumentException($"--rounds must be positive, got {roundCount}.");
                var ratios = new List<double>();
                var perRound = new List<object>();
                for (int r = 0; r < roundCount; r++)
                {
                    double ours = Convert.ToDouble(Run(configName, model, kvFormat, b, prompt, generate)["decode_tokens_per_s"]);
                    double other = Convert.ToDouble(Run(configName, model, kvFormat, versus, prompt, generate)["decode_tokens_per_s"]);
                    ratios.Add(ours / other);
                    perRound.Add(new Dictionary<string, double> { [$"batch_{b}"] = ours, [$"batch_{versus}"] = other, ["ratio"] = Math.Round(ours / other, 2) });
                }
                result["versus_batch"] = versus;
                result["versus_rounds"] = perRound;
                result["median_ratio_versus_batch"] = Math.Round(BenchStats.Median(ratios), 2);
            }
            if (parse.GetValue(reference))
            {
                if (configName != "b") throw new ArgumentException("--reference measures config b only.");
                var torch = ReferenceScript.Run(parse.GetValue(python)!, "bench/reference/torch_bench.py",
                    ["decode", "--config", "b", "--batch", b.ToString(), "--prompt", prompt.ToString(), "--new-tokens", generate.ToString(), "--threads", KernelThreads.Count.ToString()], coreType: ReferenceScript.CoreTypeHere);
                result["reference"] = torch;
                result["ratio_decode_tokens_per_s"] = Math.Round(Convert.ToDouble(result["decode_tokens_per_s"]) / (double)torch["decode_tokens_per_s"]!, 2);
                result["ratio_prefill_tokens_per_s"] = Math.Round(Convert.ToDouble(result["prefill_tokens_per_s"]) / (double)torch["prefill_tokens_per_s"]!, 2);
            }
            Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
    }

    /// <summary>Qwen2.5-0.5B(-Instruct)'s shapes: 494M parameters, 24 layers, d 896, 14 query / 2 key-value heads, tied 151,936-token embedding.</summary>
    static readonly ModelConfig Qwen25HalfB = ModelConfig.LlamaStyle(151936, 896, 24, 14, 2, 4864, 32768) with
    {
        ModelType = "qwen2", QkvBias = true, TieEmbeddings = true, RopeTheta = 1000000f,
    };

    static Dictionary<string, object> Run(string configName, InferenceModel model, KvFormat? kvFormat, int batch, int prompt, int generate)
    {
        var config = model.Config;
        var format = model.Format;
        var cache = model.CreateCache(batch, prompt + generate, kvFormat);
        var slots = Enumerable.Range(0, batch).Select(_ => cache.Allocate()).ToArray();
        var logits = new float[batch * config.VocabSize];
        var rng = new Random(2);
        var prompts = slots.Select(_ => Enumerable.Range(0, prompt).Select(_ => rng.Next(config.VocabSize)).ToArray()).ToArray();

        // Warm-up (JIT tiers, thread pool): a short prefill and a few decode steps, then roll the slots back.
        for (int round = 0; round < 3; round++)
        {
            Prefill(model, cache, slots, prompts, Math.Min(prompt, 32), logits);
            Decode(model, cache, slots, Math.Min(prompt, 32), Math.Min(generate, 8), logits, config.VocabSize);
        }

        // Best of two rounds (as the PyTorch reference does): other processes on the machine only ever slow a round down.
        double prefillSeconds = double.MaxValue, decodeSeconds = double.MaxValue, decodeCpuSeconds = double.MaxValue;
        var process = Process.GetCurrentProcess();
        for (int round = 0; round < 2; round++)
        {
            var clock = Stopwatch.StartNew();
            Prefill(model, cache, slots, prompts, prompt, logits);
            prefillSeconds = Math.Min(prefillSeconds, clock.Elapsed.TotalSeconds);
            process.Refresh();
            var cpuBefore = process.TotalProcessorTime;
            clock.Restart();
            Decode(model, cache, slots, prompt, generate, logits, config.VocabSize);
            decodeSeconds = Math.Min(decodeSeconds, clock.Elapsed.TotalSeconds);
            process.Refresh();
            decodeCpuSeconds = Math.Min(decodeCpuSeconds, (process.TotalProcessorTime - cpuBefore).TotalSeconds);
        }

        double bandwidth = ReadBandwidth();
        double boundSteps = bandwidth / model.MatmulWeightBytes;
        double decodeTokens = (double)batch * generate / decodeSeconds;
        // Each decode step also reads every sequence's cached keys and values (on average half-way through the answer).
        long kvBytesPerStep = cache.Bytes / ((long)batch * (prompt + generate)) * batch * (prompt + generate / 2);
        return new Dictionary<string, object>
        {
            ["bench"] = "decode",
            ["config"] = configName,
            ["batch"] = batch,
            ["weights"] = format.ToString().ToLowerInvariant(),
            ["kv_cache"] = cache.Format.ToString().ToLowerInvariant(),
            ["threads"] = KernelThreads.Count,
            ["simd"] = Simd.Level.ToString(),
            ["prompt_tokens"] = prompt,
            ["new_tokens"] = generate,
            ["prefill_tokens_per_s"] = Math.Round(batch * prompt / prefillSeconds, 1),
            ["decode_tokens_per_s"] = Math.Round(decodeTokens, 1),
            ["decode_step_ms"] = Math.Round(decodeSeconds * 1000 / generate, 3),
            // CPU time per step over all threads: on a machine shared with other work, wall time mostly measures waiting for a core.
            ["decode_cpu_ms_per_step"] = Math.Round(decodeCpuSeconds * 1000 / generate, 3),
            ["weight_bytes"] = model.MatmulWeightBytes,
            ["kv_bytes_per_step_avg"] = kvBytesPerStep,
            ["read_bandwidth_gb_per_s"] = Math.Round(bandwidth / 1e9, 2),
            ["bound_steps_per_s"] = Math.Round(boundSteps, 1),
            ["bound_tokens_per_s"] = Math.Round(boundSteps * batch, 1),
            ["fraction_of_bound"] = Math.Round(decodeTokens / (boundSteps * batch), 3),
            // At larger batches the KV cache outweighs the weights: the bound that counts both bytes.
            ["bound_tokens_per_s_with_kv"] = Math.Round(bandwidth / (model.MatmulWeightBytes + kvBytesPerStep) * batch, 1),
            ["load_average_1m"] = LoadAverage(),
        };
    }

    /// <summary>The 1-minute load average (Linux), so a figure measured on a busy machine says so; -1 where unknown.</summary>
    static double LoadAverage()
    {
        try { return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return -1; }
    }

    static void Prefill(InferenceModel model, KvCache cache, int[] slots, int[][] prompts, int length, float[] logits)
    {
        for (int b = 0; b < slots.Length; b++)
        {
            cache.SetLength(slots[b], 0);
            var rows = Enumerable.Range(0, length).Select(i => new ForwardRow(slots[b], prompts[b][i], i, i == length - 1)).ToArray();
            model.Forward(rows, cache, logits);
        }
    }

    /// <summary>Greedy decode of every slot together: one forward with one row per sequence per step.</summary>
    static void Decode(InferenceModel model, KvCache cache, int[] slots, int start, int steps, float[] logits, int vocab)
    {
        var rows = new ForwardRow[slots.Length];
        var next = new int[slots.Length];
        for (int step = 0; step < steps; step++)
        {
            for (int b = 0; b < slots.Length; b++) rows[b] = new ForwardRow(slots[b], next[b], start + step, true);
            model.Forward(rows, cache, logits);
            for (int b = 0; b < slots.Length; b++) next[b] = Sampler.ArgMax(logits.AsSpan(b * vocab, vocab));
        }
    }

    /// <summary>Weights ~ U(±0.035) (std 0.02), norms at 1, biases 0: logits of a typical freshly initialised GPT.</summary>
    static ParameterBuffer RandomParameters(ModelConfig config, int seed)
    {
        var parameters = new ParameterBuffer(new ParameterLayout(config));
        var rng = new Random(seed);
        foreach (var t in parameters.Layout.Tensors)
        {
            var span = parameters[t];
            if (t.Name.EndsWith(".bias")) span.Clear();
            else if (t.Name.Contains("norm")) span.Fill(1f);
            else for (int i = 0; i < span.Length; i++) span[i] = (rng.NextSingle() - 0.5f) * 0.0693f;
        }
        return parameters;
    }

    /// <summary>
    /// Read bandwidth of main memory: every kernel thread sums its part of a 512 MiB array (far beyond the L3),
    /// best of five passes.
    /// </summary>
    static double ReadBandwidth()
    {
        const int length = 128 << 20; // floats
        var data = GC.AllocateUninitializedArray<float>(length, pinned: true);
        data.AsSpan().Fill(1f);
        int threads = KernelThreads.Count;
        int chunk = length / threads;
        var partial = new float[threads];
        double best = 0;
        for (int pass = 0; pass < 5; pass++)
        {
            var clock = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => partial[t] = Sum(data.AsSpan(t * chunk, chunk)));
            double seconds = clock.Elapsed.TotalSeconds;
            best = Math.Max(best, (double)chunk * threads * sizeof(float) / seconds);
        }
        if (partial.Sum() <= 0) throw new InvalidOperationException("Bandwidth probe summed to zero.");
        return best;
    }

    static float Sum(ReadOnlySpan<float> x)
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int i = 0;
        for (; i <= x.Length - 32; i += 32)
        {
            s0 += Vector256.Create(x.Slice(i, 8));
            s1 += Vector256.Create(x.Slice(i + 8, 8));
            s2 += Vector256.Create(x.Slice(i + 16, 8));
            s3 += Vector256.Create(x.Slice(i + 24, 8));
        }
        float sum = Vector256.Sum(s0 + s1 + s2 + s3);
        for (; i < x.Length; i++) sum += x[i];
        return sum;
    }
}
