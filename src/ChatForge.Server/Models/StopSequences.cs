namespace ChatForge.Server.Models;

/// <summary>
/// Cuts streamed text at the first stop string. Text that could still be the start of a stop string is
/// held back until the next piece decides it.
/// </summary>
public sealed class StopSequences(IReadOnlyList<string> stops)
{
    readonly string[] _stops = stops.Where(s => s.Length > 0).ToArray();
    string _pending = "";

    public bool Any => _stops.Length > 0;

    /// <summary>Returns the text safe to emit; sets stopped when a stop string was found (the text before it is returned).</summary>
    public string Push(string text, out bool stopped)
    {
        stopped = false;
        if (_stops.Length == 0) return text;
        string buffer = _pending + text;
        int cut = -1;
        foreach (var stop in _stops)
        {
            int at = buffer.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0)
        {
            stopped = true;
            _pending = "";
            return buffer[..cut];
        }
        int hold = 0;
        foreach (var stop in _stops)
            for (int k = Math.Min(stop.Length - 1, buffer.Length); k > hold; k--)
                if (buffer.AsSpan(buffer.Length - k).SequenceEqual(stop.AsSpan(0, k))) { hold = k; break; }
        _pending = buffer[^hold..];
        return buffer[..^hold];
    }

    public string Flush()
    {
        string rest = _pending;
        _pending = "";
        return rest;
    }
}
