using System.Runtime.CompilerServices;
using ChatForge.Engine.Inference;
using ChatForge.Tokenizer;

namespace ChatForge.Server.Models;

/// <summary>The local engine: renders the chat with the tokenizer's template and decodes with the token generator.</summary>
public sealed class LocalModelBackend(ITokenGenerator generator, IChatTokenizer tokenizer, string version, string name = "chatforge", IDisposable? owned = null) : ModelBackend
{
    public override string Name => name;
    public override string Version => version;
    public override string Kind => "local";
    public override int ContextLength => generator.ContextLength;
    public IChatTokenizer Tokenizer => tokenizer;

    /// <summary>
    /// The prompt ids: the conversation rendered with the chat template, oldest turns dropped first (the
    /// system prompt is kept) until it leaves room for an answer in the context window. For Continue the
    /// partial answer follows the generation prompt with no end-of-turn, so the model carries on with it.
    /// </summary>
    public int[] BuildPrompt(BackendRequest request, out int droppedMessages)
    {
        var system = request.Messages.Where(m => m.Role == ChatRoles.System).Take(1).ToList();
        var turns = request.Messages.Where(m => m.Role != ChatRoles.System).ToList();
        int[] partial = request.ContinueFrom is { Length: > 0 } p ? tokenizer.Encode(p) : Array.Empty<int>();
        // Room for at least a useful piece of answer; a small context cannot reserve the whole cap.
        int reserve = Math.Max(1, Math.Min(request.MaxTokens, ContextLength / 4));
        int budget = ContextLength - reserve;
        droppedMessages = 0;
        while (true)
        {
            var ids = tokenizer.RenderChat(system.Concat(turns).ToList(), addGenerationPrompt: true).Ids;
            int length = ids.Length + partial.Length;
            if (length <= budget) return partial.Length == 0 ? ids : [.. ids, .. partial];
            if (turns.Count <= 1)
                throw new ModelBackendException(400, $"The conversation needs {length} tokens but the model's context window is {ContextLength} tokens " +
                    $"(with {reserve} kept for the answer); shorten the message or the system prompt.");
            turns.RemoveAt(0);
            droppedMessages++;
            // A conversation starts with a user turn after the system prompt.
            while (turns.Count > 1 && turns[0].Role != ChatRoles.User) { turns.RemoveAt(0); droppedMessages++; }
        }
    }

    public override async IAsyncEnumerable<BackendDelta> StreamAsync(BackendRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var prompt = BuildPrompt(request, out _);
        int maxNew = Math.Min(request.MaxTokens, ContextLength - prompt.Length);
        using var stopGeneration = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var generation = new GenerationRequest
        {
            PromptTokens = prompt,
            MaxNewTokens = maxNew,
            StopTokens = tokenizer.StopTokenIds.ToArray(),
            Sampling = new SamplingOptions { Temperature = request.Temperature, TopP = request.TopP, Seed = request.Seed },
        };
        var decoder = tokenizer.CreateStreamingDecoder();
        var stops = new StopSequences(request.Stop);
        int completion = 0;
        await foreach (var step in generator.GenerateAsync(generation, stopGeneration.Token).WithCancellation(CancellationToken.None))
        {
            if (step.Finish is FinishReason reason)
            {
                string tail = stops.Push(decoder.Flush(), out bool stoppedAtEnd) + (stoppedAtEnd ? "" : stops.Flush());
                string finish = stoppedAtEnd ? Finish.Stop : reason switch
                {
                    FinishReason.Stop => Finish.Stop,
                    FinishReason.Cancelled => Finish.Cancelled,
                    _ => Finish.Length, // the cap or the context window: Continue can carry on either way
                };
                yield return new BackendDelta(tail, finish, prompt.Length, completion);
                yield break;
            }
            completion++;
            string text = stops.Push(decoder.Push(step.TokenId), out bool stopped);
            if (stopped)
            {
                stopGeneration.Cancel(); // frees the batch slot at once
                yield return new BackendDelta(text, Finish.Stop, prompt.Length, completion);
                yield break;
            }
            if (text.Length > 0) yield return new BackendDelta(text);
        }
    }

    public override void Dispose() => owned?.Dispose();
}
