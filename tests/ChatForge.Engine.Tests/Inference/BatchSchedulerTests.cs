using ChatForge.Engine.Inference;

namespace ChatForge.Engine.Tests.Inference;

/// <summary>Continuous batching itself: how many forward steps the scheduler takes shows whether sequences share them.</summary>
public class BatchSchedulerTests
{
    static readonly InferenceModel Model = new(TinyModels.RandomParameters(TinyModels.Gpt2, seed: 51), WeightFormat.F32);

    static (DecodeSequence Sequence, List<GenerationStep> Steps) Sequence(int[] prompt, int maxNewTokens)
    {
        var steps = new List<GenerationStep>();
        var request = new GenerationRequest { PromptTokens = prompt, MaxNewTokens = maxNewTokens, Sampling = SamplingOptions.Greedy };
        return (new DecodeSequence(request, new Sampler(request.Sampling, Model.VocabSize), steps.Add, e => throw e), steps);
    }

    static int RunToEnd(BatchScheduler scheduler)
    {
        int forwardSteps = 0;
        while (scheduler.HasWork) { scheduler.Step(); forwardSteps++; }
        return forwardSteps;
    }

    [Fact]
    public void Active_sequences_decode_together_and_waiting_ones_take_freed_slots()
    {
        var scheduler = new BatchScheduler(Model, Model.CreateCache(2), prefillChunk: 64);
        var runs = new[] { Sequence([1, 2, 3], 5), Sequence([4], 5), Sequence([5, 6], 5) };
        foreach (var (seq, _) in runs) scheduler.Add(seq);
        // Two slots: the first two share 5 steps (prefill step yields token 1), the third then needs 5 more.
        Assert.Equal(10, RunToEnd(scheduler));
        foreach (var (_, steps) in runs)
        {
            Assert.Equal(6, steps.Count);
            Assert.Equal(GenerationStep.End(FinishReason.Length), steps[^1]);
        }
    }

    [Fact]
    public void Long_prompts_are_prefilled_in_chunks_while_others_keep_decoding()
    {
        var scheduler = new BatchScheduler(Model, Model.CreateCache(2), prefillChunk: 4);
        var (shortSeq, shortSteps) = Sequence([1], 6);
        var (longSeq, longSteps) = Sequence(Enumerable.Range(0, 10).ToArray(), 2);
        scheduler.Add(shortSeq);
        scheduler.Add(longSeq);
        scheduler.Step(); // the short prompt takes 1 row of the budget, the long one 3 of its 10 tokens
        Assert.Single(shortSteps);
        Assert.Empty(longSteps);
        scheduler.Step(); // short decodes; long gets 4 more prompt tokens (7 of 10)
        scheduler.Step(); // short decodes; long finishes its prompt (the last 3) and samples its first token
        Assert.Equal(3, shortSteps.Count);
        Assert.Single(longSteps);
        Assert.Equal(3, RunToEnd(scheduler));
        Assert.Equal(7, shortSteps.Count);
        Assert.Equal(3, longSteps.Count);
    }
}
