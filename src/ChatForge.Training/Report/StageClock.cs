using System.Text.Json;

namespace ChatForge.Training.Report;

/// <summary>
/// Wall time of one recipe stage over all its segments: a stage interrupted (Ctrl+C, a killed process) and resumed by
/// the next `train` run keeps the time of the segments before. &lt;runs&gt;/&lt;stage&gt;.segments.json lists the seconds of
/// every segment; the running one is rewritten on each heartbeat, so a killed process loses at most one heartbeat
/// of time. When the stage completes its record takes the segments and the file is removed.
/// </summary>
public sealed class StageClock : IDisposable
{
    readonly string _path;
    readonly TimeProvider _time;
    readonly long _start;
    readonly List<double> _earlier;
    readonly ITimer? _heartbeat;
    readonly Lock _lock = new();
    bool _stopped;

    StageClock(string path, List<double> earlier, TimeProvider time, TimeSpan? heartbeat)
    {
        _path = path; _earlier = earlier; _time = time;
        _start = time.GetTimestamp();
        Save();
        if (heartbeat is { } period) _heartbeat = time.CreateTimer(_ => Save(), null, period, period);
    }

    public static string PathFor(string runsDirectory, string stage) => Path.Combine(runsDirectory, stage + ".segments.json");

    /// <summary>Starts a new segment after the segments recorded for this stage (none if the file does not exist).</summary>
    public static StageClock Start(string runsDirectory, string stage, TimeSpan? heartbeat = null, TimeProvider? time = null)
    {
        string path = PathFor(runsDirectory, stage);
        var earlier = new List<double>();
        if (File.Exists(path))
        {
            try { earlier = JsonSerializer.Deserialize<List<double>>(File.ReadAllText(path)) ?? []; }
            catch (JsonException e) { throw new InvalidDataException($"{path}: not a list of segment seconds ({e.Message}). Delete it to time the stage afresh.", e); }
            if (earlier.Any(s => !double.IsFinite(s) || s < 0)) throw new InvalidDataException($"{path}: segment seconds must be finite and >= 0.");
        }
        Directory.CreateDirectory(runsDirectory);
        return new StageClock(path, earlier, time ?? TimeProvider.System, heartbeat);
    }

    /// <summary>Forgets the recorded segments of a stage that starts over from nothing.</summary>
    public static void Discard(string runsDirectory, string stage) => File.Delete(PathFor(runsDirectory, stage));

    double Current => _time.GetElapsedTime(_start).TotalSeconds;

    /// <summary>Seconds of every segment, this one last.</summary>
    public IReadOnlyList<double> Segments { get { lock (_lock) return [.. _earlier, Current]; } }

    public double TotalSeconds => Segments.Sum();

    /// <summary>Writes the segments so far (the heartbeat calls this).</summary>
    public void Save()
    {
        lock (_lock)
        {
            if (_stopped) return;
            string temp = _path + ".tmp";
            File.WriteAllText(temp, JsonSerializer.Serialize(Segments.Select(s => Math.Round(s, 1))));
            File.Move(temp, _path, overwrite: true);
        }
    }

    /// <summary>Ends the segment of a completed stage: returns every segment's seconds and removes the file.</summary>
    public IReadOnlyList<double> Complete()
    {
        _heartbeat?.Dispose();
        lock (_lock)
        {
            var segments = Segments;
            _stopped = true;
            File.Delete(_path);
            return segments;
        }
    }

    /// <summary>An interrupted or failed segment: its time stays in the file for the next run.</summary>
    public void Dispose()
    {
        _heartbeat?.Dispose();
        Save();
        lock (_lock) _stopped = true;
    }
}
