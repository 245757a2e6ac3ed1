using System.CommandLine;
using System.Globalization;
using ChatForge.Engine.Inference;
using ChatForge.Import;
using ChatForge.Tokenizer;

namespace ChatForge.Cli.Commands;

/// <summary>
/// `chatforge chat`: an interactive terminal chat with a model folder (default models/default). Answers stream
/// token by token; the conversation is kept and its oldest turns dropped when it no longer fits the context.
/// Commands: /continue (extend a cut answer), /reset, /temp &lt;t&gt;, /exit. Reads stdin line by line, so it
/// also works with redirected input.
/// </summary>
public sealed class ChatCommand : ICliCommand
{
    public const string DefaultModel = "models/default";

    public sealed record ChatOptions
    {
        public float Temperature { get; init; } = 0.7f;
        public float TopP { get; init; } = 0.95f;
        public int MaxNewTokens { get; init; } = 256;
        public string? System { get; init; }
        public WeightFormat Weights { get; init; } = WeightFormat.Bf16;
        public ulong? Seed { get; init; }
    }

    public Command Build()
    {
        var model = new Option<string>("--model") { Description = "Model folder (config.json, model.safetensors, tokenizer files)", DefaultValueFactory = _ => DefaultModel };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (0 = greedy); /temp changes it", DefaultValueFactory = _ => 0.7f };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling cut", DefaultValueFactory = _ => 0.95f };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Answer length cap (/continue extends a cut answer)", DefaultValueFactory = _ => 256 };
        var system = new Option<string?>("--system") { Description = "System message" };
        var seed = new Option<ulong?>("--seed") { Description = "Sampling seed (repeatable answers)" };
        var weights = new Option<string>("--weights") { Description = $"Matmul weights in memory: {WeightFormats.Names}", DefaultValueFactory = _ => "auto" };
        var command = new Command("chat", "Chat with a model in the terminal (/continue, /reset, /temp <t>, /exit).");
        foreach (var o in new Option[] { model, temperature, topP, maxNew, system, seed, weights }) command.Options.Add(o);
        command.SetAction((parse, token) => RunAsync(parse.GetValue(model)!, Console.In, Console.Out, Console.Error,
            new ChatOptions { Temperature = parse.GetValue(temperature), TopP = parse.GetValue(topP), MaxNewTokens = parse.GetValue(maxNew), System = parse.GetValue(system), Seed = parse.GetValue(seed), Weights = WeightFormats.ParseFor(parse.GetValue(weights)!, parse.GetValue(model)!) },
            !Console.IsInputRedirected, token));
        return command;
    }

    public static async Task<int> RunAsync(string modelDirectory, TextReader input, TextWriter output, TextWriter error, ChatOptions options,
        bool interactive, CancellationToken cancellationToken)
    {
        IChatTokenizer tokenizer;
        Generator generator;
        try
        {
            if (options.MaxNewTokens < 1) throw new ArgumentException($"--max-new-tokens must be at least 1, got {options.MaxNewTokens}.");
            if (ModelFiles.IsGguf(modelDirectory))
                // A .gguf as it is: its own tokenizer and (--weights auto) its own quantised blocks.
                tokenizer = ChatForge.Import.Gguf.GgufModel.LoadTokenizer(modelDirectory);
            else
            {
                StageCli.RequireModel(modelDirectory, "--model");
                // Our own tokenizer files, or an imported model's Hugging Face tokenizer.json (byte-level or SentencePiece BPE).
                tokenizer = ModelFolder.IsHfTokenizer(modelDirectory) ? ModelFolder.LoadTokenizer(modelDirectory) : StageCli.LoadTokenizer(modelDirectory, null);
            }
            generator = new Generator(ModelFiles.Inference(modelDirectory, options.Weights), new GeneratorOptions { MaxConcurrent = 1 });
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or TokenizerFileException or UnauthorizedAccessException)
        {
            error.WriteLine($"chat: {e.Message}");
            if (modelDirectory == DefaultModel) error.WriteLine("chat: train one with `chatforge train --recipe default` or pass --model <folder>.");
            return 1;
        }
        using var _ = generator;
        var session = new ChatSession(tokenizer, generator, options);
        if (interactive) output.WriteLine($"ChatForge chat with {modelDirectory} (context {generator.ContextLength} tokens). /continue /reset /temp <t> /exit");
        while (!cancellationToken.IsCancellationRequested)
        {
            if (interactive) { output.Write("you> "); output.Flush(); }
            string? line = await input.ReadLineAsync(cancellationToken);
            if (line is null || line.Trim() == "/exit") break;
            line = line.Trim();
            if (line.Length == 0) continue;
            if (line == "/reset") { session.Reset(); output.WriteLine("[conversation cleared]"); continue; }
            if (line.StartsWith("/temp", StringComparison.Ordinal))
            {
                if (float.TryParse(line[5..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out float t) && t >= 0 && t <= 5)
                { session.Temperature = t; output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[temperature {t}]")); }
                else output.WriteLine("[usage: /temp <t> with 0 ≤ t ≤ 5; 0 is greedy]");
                continue;
            }
            if (line == "/continue" && !session.CanContinue) { output.WriteLine("[nothing to continue: the last answer was complete]"); continue; }
            if (line.StartsWith('/') && line != "/continue") { output.WriteLine($"[unknown command {line}; /continue /reset /temp <t> /exit]"); continue; }

            if (interactive) output.Write("assistant> ");
            var finish = await session.ReplyAsync(line == "/continue" ? null : line, text => { output.Write(text); output.Flush(); }, cancellationToken);
            output.WriteLine();
            if (finish is FinishReason.Length or FinishReason.ContextFull)
                output.WriteLine("[answer cut by the length limit: /continue for more]");
        }
        return 0;
    }
}

/// <summary>The conversation state of one chat: messages, the last answer's tokens (for /continue) and the sampling settings.</summary>
public sealed class ChatSession(IChatTokenizer tokenizer, Generator generator, ChatCommand.ChatOptions options)
{
    readonly List<ChatMessage> _messages = options.System is { } system ? [new(ChatRoles.System, system)] : [];
    readonly List<int> _answerTokens = [];
    FinishReason? _lastFinish;
    int _turn;

    public float Temperature { get; set; } = options.Temperature;
    public IReadOnlyList<ChatMessage> Messages => _messages;
    public bool CanContinue => _lastFinish is FinishReason.Length && _messages.Count > 0 && _messages[^1].Role == ChatRoles.Assistant;

    public void Reset()
    {
        _messages.RemoveAll(m => m.Role != ChatRoles.System);
        _answerTokens.Clear();
        _lastFinish = null;
    }

    /// <summary>Answers a new user message, or (null) continues the last answer; streams text through <paramref name="emit"/>.</summary>
    public async Task<FinishReason> ReplyAsync(string? userMessage, Action<string> emit, CancellationToken cancellationToken)
    {
        bool continuing = userMessage is null;
        if (continuing && !CanContinue) throw new InvalidOperationException("Nothing to continue.");
        if (!continuing)
        {
            _messages.Add(new ChatMessage(ChatRoles.User, userMessage!));
            _answerTokens.Clear();
        }
        var history = continuing ? _messages.Take(_messages.Count - 1).ToList() : _messages;
        var prompt = FitContext(history, _answerTokens);
        var request = new GenerationRequest
        {
            PromptTokens = prompt, MaxNewTokens = options.MaxNewTokens, StopTokens = tokenizer.StopTokenIds.ToArray(),
            Sampling = new SamplingOptions { Temperature = Temperature, TopP = options.TopP, Seed = options.Seed is { } s ? s + (ulong)_turn++ : null },
        };
        var decoder = tokenizer.CreateStreamingDecoder();
        var text = new System.Text.StringBuilder();
        FinishReason finish = FinishReason.Cancelled;
        await foreach (var step in generator.GenerateAsync(request, cancellationToken))
        {
            if (step.Finish is { } f) { finish = f; break; }
            _answerTokens.Add(step.TokenId);
            string piece = decoder.Push(step.TokenId);
            text.Append(piece);
            emit(piece);
        }
        string rest = decoder.Flush();
        text.Append(rest);
        if (rest.Length > 0) emit(rest);
        if (continuing) _messages[^1] = _messages[^1] with { Content = _messages[^1].Content + text };
        else _messages.Add(new ChatMessage(ChatRoles.Assistant, text.ToString()));
        _lastFinish = finish;
        return finish;
    }

    /// <summary>
    /// The prompt for the history (plus a partial answer): drops the oldest turns, never a system message or the
    /// latest user turn, until it leaves room for an answer; a single over-long turn keeps its end.
    /// </summary>
    int[] FitContext(List<ChatMessage> history, List<int> partialAnswer)
    {
        int budget = Math.Max(1, generator.ContextLength - Math.Min(options.MaxNewTokens, generator.ContextLength / 2));
        var kept = history.ToList();
        while (true)
        {
            var ids = tokenizer.RenderChat(kept, addGenerationPrompt: true).Ids.Concat(partialAnswer).ToArray();
            int firstDroppable = kept.Count > 0 && kept[0].Role == ChatRoles.System ? 1 : 0;
            if (ids.Length <= budget || kept.Count - firstDroppable <= 1)
                return ids.Length <= budget ? ids : ids[^budget..];
            kept.RemoveAt(firstDroppable);
        }
    }
}
