using System.Text.Json;
using ChatForge.Cli.Bench;
using ChatForge.Cli.Commands;

namespace ChatForge.Cli.Tests.Commands;

public sealed class BenchDecodeCommandTests
{
    [Fact]
    public void Versus_batch_alternates_the_two_batch_sizes_and_reports_the_median_paired_ratio()
    {
        var (code, output, error) = PipelineFixture.Invoke(new BenchDecodeCommand(),
            "--config", "tiny", "--batch", "2", "--prompt-tokens", "8", "--new-tokens", "4", "--threads", "1", "--versus-batch", "1", "--rounds", "3");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(1, root.GetProperty("versus_batch").GetInt32());
        var rounds = root.GetProperty("versus_rounds").EnumerateArray().ToList();
        Assert.Equal(3, rounds.Count);
        var ratios = rounds.Select(r => r.GetProperty("ratio").GetDouble()).Order().ToList();
        Assert.All(rounds, r => Assert.True(r.GetProperty("batch_2").GetDouble() > 0 && r.GetProperty("batch_1").GetDouble() > 0));
        Assert.Equal(ratios[1], root.GetProperty("median_ratio_versus_batch").GetDouble(), 2);
    }

    [Fact]
    public void Zero_rounds_is_a_clear_error()
    {
        var (code, _, error) = PipelineFixture.Invoke(new BenchDecodeCommand(), "--config", "tiny", "--prompt-tokens", "8", "--new-tokens", "4", "--versus-batch", "2", "--rounds", "0");
        Assert.Equal(2, code);
        Assert.Contains("--rounds must be positive", error);
    }

    [Fact]
    public void Median_of_odd_and_even_counts_and_none()
    {
        Assert.Equal(2, BenchStats.Median([3, 1, 2]));
        Assert.Equal(2.5, BenchStats.Median([4, 1, 3, 2]));
        Assert.Throws<ArgumentException>(() => BenchStats.Median([]));
    }
}
