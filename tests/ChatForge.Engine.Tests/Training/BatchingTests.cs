using ChatForge.Engine.Training;

namespace ChatForge.Engine.Tests.Training;

public sealed class BatchingTests
{
    [Fact]
    public void Schedule_warms_up_linearly_then_decays_by_cosine_to_the_minimum()
    {
        var s = new LearningRateSchedule(1e-3f, WarmupSteps: 10, TotalSteps: 110, MinRatio: 0.1f);
        Assert.Equal(1e-4f, s.At(0), 1e-9f);
        Assert.Equal(1e-3f, s.At(9), 1e-9f);
        Assert.Equal(1e-3f, s.At(10), 1e-9f);
        Assert.Equal(0.55e-3f, s.At(60), 1e-8f); // halfway through the decay: (max + min) / 2
        Assert.Equal(1e-4f, s.At(110), 1e-9f);
        Assert.Equal(1e-4f, s.At(500), 1e-9f);
        for (int i = 11; i < 110; i++) Assert.True(s.At(i) <= s.At(i - 1));
        Assert.Throws<ArgumentException>(() => new LearningRateSchedule(float.NaN, 1, 10).Validate());
    }

    [Fact]
    public void Random_batches_are_shifted_windows_and_resume_exactly()
    {
        using var temp = new TempRun();
        var train = Enumerable.Range(0, 1000).Select(i => i % 97).ToArray();
        temp.WriteShards(train, train[..100], 100);
        using var data = PretrainData.Open(temp.Data);
        var batcher = new TokenBatcher(data.Train, 8, BatchOrder.Random, seed: 5);
        var inputs = new int[4 * 8];
        var targets = new int[4 * 8];
        batcher.Next(inputs, targets);
        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.Equal((inputs[i] + 1) % 97, targets[i]);
            if (i % 8 != 0) Assert.Equal((inputs[i - 1] + 1) % 97, inputs[i]); // contiguous inside a row
        }
        var (rng, position) = (batcher.RngState, batcher.Position);
        Assert.Equal(4, position);
        batcher.Next(inputs, targets);
        var expected = inputs.ToArray();

        var resumed = new TokenBatcher(data.Train, 8, BatchOrder.Random, seed: 999);
        resumed.Restore(rng, position);
        resumed.Next(inputs, targets);
        Assert.Equal(expected, inputs);
    }

    [Fact]
    public void Sequential_batches_walk_the_shards_in_order_and_wrap()
    {
        using var temp = new TempRun();
        var val = Enumerable.Range(0, 35).ToArray();
        temp.WriteShards(val, val, 64);
        using var data = PretrainData.Open(temp.Data);
        var batcher = new TokenBatcher(data.Validation, 10, BatchOrder.Sequential, 0);
        Assert.Equal(3, batcher.SequentialWindows); // (35 − 1) / 10
        var inputs = new int[40];
        var targets = new int[40];
        batcher.Next(inputs, targets);
        Assert.Equal(Enumerable.Range(0, 30).Concat(Enumerable.Range(0, 10)), inputs);
        Assert.Equal(Enumerable.Range(1, 30).Concat(Enumerable.Range(1, 10)), targets);
    }

    [Fact]
    public void Shards_too_short_for_one_window_are_named()
    {
        using var temp = new TempRun();
        temp.WriteShards(new int[10], new int[10], 16);
        using var data = PretrainData.Open(temp.Data);
        var e = Assert.Throws<InvalidDataException>(() => new TokenBatcher(data.Train, 8, BatchOrder.Random, 1));
        Assert.Contains("9 tokens", e.Message);
        Assert.Contains("000.bin (5 tokens)", e.Message);
    }
}
