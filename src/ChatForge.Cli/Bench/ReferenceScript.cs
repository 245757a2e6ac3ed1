using System.Diagnostics;
using System.Text.Json.Nodes;

namespace ChatForge.Cli.Bench;

/// <summary>
/// Runs a reference benchmark script (bench/reference/*.py, numpy or PyTorch) in the same bench run as our
/// measurement, so the two figures share the machine's state, and returns the one JSON object it prints.
/// </summary>
static class ReferenceScript
{
    public const string DefaultPython = "/usr/bin/python3";

    /// <summary>
    /// OpenBLAS 0.3.21 (Debian 12) does not know the newest Xeons and falls back to its Prescott (SSE3) kernels, about a
    /// fifth of what its AVX-512 kernels reach there; this names those kernels for a third reference run on AVX-512 CPUs.
    /// </summary>
    public const string Avx512CoreType = "SkylakeX";

    /// <summary>The core type a reference should run with on this CPU: <see cref="Avx512CoreType"/> where AVX-512 is there, else none.</summary>
    public static string? CoreTypeHere => System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? Avx512CoreType : null;

    public static JsonNode Run(string python, string scriptPath, IEnumerable<string> arguments, bool unsetOpenBlasHints = false, string? coreType = null)
    {
        if (!File.Exists(scriptPath))
            throw new FileNotFoundException($"Reference script '{Path.GetFullPath(scriptPath)}' not found (run from the repository root or pass --script).", scriptPath);
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(scriptPath);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        if (unsetOpenBlasHints)
        {
            start.Environment.Remove("OPENBLAS_CORETYPE");
            start.Environment.Remove("OPENBLAS_L2_SIZE");
        }
        if (coreType is not null) start.Environment["OPENBLAS_CORETYPE"] = coreType;
        Process process;
        try { process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{python}'."); }
        catch (System.ComponentModel.Win32Exception e) { throw new InvalidOperationException($"Could not start '{python}' for the reference ({e.Message}); install python3 with numpy/torch or pass --python.", e); }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"Reference script '{scriptPath}' with '{python}' exited with {process.ExitCode}: {stderr.Result.Trim()}");
            return JsonNode.Parse(stdout) ?? throw new InvalidOperationException($"Reference script '{scriptPath}' printed no JSON.");
        }
    }
}
