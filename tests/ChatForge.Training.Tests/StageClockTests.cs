using ChatForge.Training.Report;

namespace ChatForge.Training.Tests;

public class StageClockTests
{
    /// <summary>A clock the test moves by hand.</summary>
    sealed class ManualTime : TimeProvider
    {
        public long Ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Ticks;
        public void Advance(double seconds) => Ticks += (long)(seconds * TimeSpan.TicksPerSecond);
    }

    [Fact]
    public void A_stage_resumed_after_a_killed_segment_records_the_sum_of_every_segment()
    {
        using var dir = new TempFolder();
        var time = new ManualTime();
        // First segment: killed after 2800 s; its last heartbeat (at 2790 s) is what survives.
        var first = StageClock.Start(dir.Path, "pretrain", time: time);
        time.Advance(2790);
        first.Save();
        time.Advance(10);
        // (no Dispose: the process died)

        // Second segment: interrupted by Ctrl+C after 600 s (Dispose saves it).
        using (StageClock.Start(dir.Path, "pretrain", time: time)) time.Advance(600);

        var last = StageClock.Start(dir.Path, "pretrain", time: time);
        time.Advance(900);
        var segments = last.Complete();
        Assert.Equal([2790, 600, 900], segments);
        Assert.False(File.Exists(StageClock.PathFor(dir.Path, "pretrain")));

        // The next run of the stage starts from nothing.
        using var again = StageClock.Start(dir.Path, "pretrain", time: time);
        time.Advance(5);
        Assert.Equal([5], again.Segments);

        var stages = StagesFile.Load(dir.Path);
        stages.Complete(new StageRecord { Name = "pretrain", Output = dir.Path, Seconds = segments.Sum(), Segments = [.. segments] });
        stages.Complete(new StageRecord { Name = "sft", Output = dir.Path, Seconds = 90 });
        var reloaded = StagesFile.Load(dir.Path);
        Assert.Equal([2790, 600, 900], reloaded.Find("pretrain")!.Segments!);
        string md = File.ReadAllText(ReportCard.Write(Path.Combine(dir.Path, "model"), reloaded, []));
        Assert.Contains("| pretrain | 1.2 h (3 segments) |", md);
        Assert.Contains("| sft | 1.5 min |", md);
    }

    [Fact]
    public void Discard_forgets_earlier_segments_and_a_corrupt_file_is_named()
    {
        using var dir = new TempFolder();
        var time = new ManualTime();
        using (StageClock.Start(dir.Path, "sft", time: time)) time.Advance(30);
        StageClock.Discard(dir.Path, "sft");
        using (var fresh = StageClock.Start(dir.Path, "sft", time: time)) Assert.Equal([0], fresh.Segments);

        File.WriteAllText(StageClock.PathFor(dir.Path, "rm"), "{not json");
        var e = Assert.Throws<InvalidDataException>(() => StageClock.Start(dir.Path, "rm", time: time));
        Assert.Contains("rm.segments.json", e.Message);
    }

    [Fact]
    public void The_heartbeat_rewrites_the_running_segment()
    {
        using var dir = new TempFolder();
        using var clock = StageClock.Start(dir.Path, "rm", heartbeat: TimeSpan.FromMilliseconds(20));
        string path = StageClock.PathFor(dir.Path, "rm");
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (File.ReadAllText(path) == "[0]" && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.NotEqual("[0]", File.ReadAllText(path));
    }
}
