using System.Diagnostics;

namespace ChatForge.Data.Sources;

public sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>Runs external tools (apt-get, npm, dpkg-deb, tar); injectable so tests can simulate a machine without them.</summary>
public interface ICommandRunner
{
    /// <summary>Full path of the tool found on PATH, or null when it is not installed.</summary>
    string? Find(string tool);
    CommandResult Run(string tool, IReadOnlyList<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string>? environment = null);
}

public sealed class ProcessCommandRunner(string? path = null) : ICommandRunner
{
    readonly string _path = path ?? Environment.GetEnvironmentVariable("PATH") ?? "";

    public string? Find(string tool)
    {
        if (tool.Contains('/')) return File.Exists(tool) ? tool : null;
        foreach (var dir in _path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    public CommandResult Run(string tool, IReadOnlyList<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var exe = Find(tool) ?? throw new DataSourceException($"'{tool}' was not found on PATH.");
        var info = new ProcessStartInfo(exe)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        if (environment is not null) foreach (var (k, v) in environment) info.Environment[k] = v;
        using var process = Process.Start(info) ?? throw new DataSourceException($"Could not start {exe}.");
        // Read both streams concurrently so a chatty tool cannot dead-lock on a full pipe.
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return new CommandResult(process.ExitCode, stdout, stderr.Result);
    }
}

/// <summary>A problem with a source file or a download; the message names the file or package concerned.</summary>
public sealed class DataSourceException(string message, Exception? inner = null) : Exception(message, inner);
