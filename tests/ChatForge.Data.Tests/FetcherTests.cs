using ChatForge.Data.Sources;

namespace ChatForge.Data.Tests;

public class FetcherTests
{
    /// <summary>Pretends to be apt-get, npm, dpkg-deb and tar: "downloads" small files and "unpacks" a marker.</summary>
    sealed class FakeRunner(params string[] installed) : ICommandRunner
    {
        public List<string> Calls { get; } = [];
        public string? Find(string tool) => installed.Contains(tool) ? "/usr/bin/" + tool : null;

        public CommandResult Run(string tool, IReadOnlyList<string> args, string wd, IReadOnlyDictionary<string, string>? env = null)
        {
            Calls.Add(tool + " " + string.Join(' ', args));
            switch (tool)
            {
                case "apt-get": File.WriteAllText(Path.Combine(wd, $"{args[1]}_1.0-1_all.deb"), "deb " + args[1]); break;
                case "npm":
                    var (name, version) = (args[2].Split('@')[0], args[2].Split('@')[1]);
                    File.WriteAllText(Path.Combine(wd, $"{name}-{version}.tgz"), "tgz " + name);
                    break;
                case "dpkg-deb": File.WriteAllText(Path.Combine(args[2], "unpacked"), ""); break;
                case "tar": File.WriteAllText(Path.Combine(args[3], "unpacked"), ""); break;
            }
            return new CommandResult(0, "", "");
        }
    }

    static readonly SourceSpec[] Sources =
    [
        new("poems", SourceKind.Npm, "chinese-poetry", "2.0.1", "MIT", "test", true),
        new("quotes", SourceKind.Apt, "fortunes", null, "BSD", "test", false),
    ];

    [Fact]
    public void Missing_tools_are_named_with_the_sources_that_need_them()
    {
        var dir = Directory.CreateTempSubdirectory("cf-fetch").FullName;
        try
        {
            var runner = new FakeRunner("tar", "dpkg-deb");
            var e = Assert.Throws<DataSourceException>(() => new SourceFetcher(new DataPaths(dir), runner, _ => { }).Fetch(Sources));
            Assert.Contains("'apt-get' is not installed; it is needed for: quotes", e.Message);
            Assert.Contains("'npm' is not installed; it is needed for: poems", e.Message);
            Assert.Empty(runner.Calls); // nothing is downloaded when a tool is missing
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Real_path_lookup_with_an_empty_path_finds_nothing()
    {
        var empty = Directory.CreateTempSubdirectory("cf-empty-path").FullName;
        try
        {
            var runner = new ProcessCommandRunner(empty);
            Assert.Null(runner.Find("apt-get"));
            var e = Assert.Throws<DataSourceException>(() => new SourceFetcher(new DataPaths(empty), runner, _ => { }).Fetch(SourceCatalog.All));
            Assert.Contains("apt-get", e.Message);
            Assert.Contains("fortunes-zh", e.Message);
            Assert.Contains("npm", e.Message);
            Assert.Contains("world-countries", e.Message);
        }
        finally { Directory.Delete(empty, true); }
    }

    [Fact]
    public void Fetch_records_a_manifest_and_is_idempotent()
    {
        var dir = Directory.CreateTempSubdirectory("cf-fetch").FullName;
        try
        {
            var paths = new DataPaths(dir);
            var runner = new FakeRunner("apt-get", "dpkg-deb", "npm", "tar");
            var manifest = new SourceFetcher(paths, runner, _ => { }).Fetch(Sources);
            Assert.Equal(4, runner.Calls.Count);
            var apt = manifest.Sources.Single(s => s.Name == "quotes");
            Assert.Equal(("1.0-1", "BSD", 64), (apt.Version, apt.Licence, apt.Sha256.Length));
            Assert.Equal("2.0.1", manifest.Sources.Single(s => s.Name == "poems").Version);
            Assert.True(File.Exists(paths.Manifest));
            var written = File.GetLastWriteTimeUtc(paths.Manifest);

            runner.Calls.Clear();
            new SourceFetcher(paths, runner, _ => { }).Fetch(Sources);
            Assert.Empty(runner.Calls); // checksums match: nothing to do
            Assert.Equal(written, File.GetLastWriteTimeUtc(paths.Manifest));

            // A damaged download is fetched again.
            File.WriteAllText(Path.Combine(paths.Sources, apt.File), "truncated");
            new SourceFetcher(paths, runner, _ => { }).Fetch(Sources);
            Assert.Equal(["apt-get download fortunes", $"dpkg-deb -x {Path.Combine(paths.Sources, apt.File)} {Path.Combine(paths.Sources, "x", "quotes")}"], runner.Calls);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Corrupt_manifest_names_the_file()
    {
        var dir = Directory.CreateTempSubdirectory("cf-fetch").FullName;
        try
        {
            var paths = new DataPaths(dir);
            Directory.CreateDirectory(paths.Sources);
            File.WriteAllText(paths.Manifest, "{\"fetchedAtUtc\": ");
            var e = Assert.Throws<DataSourceException>(() => new SourceFetcher(paths, new FakeRunner("apt-get", "dpkg-deb", "npm", "tar"), _ => { }).Fetch(Sources));
            Assert.Contains(paths.Manifest, e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
