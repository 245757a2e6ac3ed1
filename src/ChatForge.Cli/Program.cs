using System.CommandLine;
using System.Reflection;
using ChatForge.Cli;

var root = new RootCommand("ChatForge: train, align and serve your own chat model in .NET.");
var groupDescriptions = new Dictionary<string, string>
{
    ["bench"] = "Benchmarks that print one JSON object per run.",
    ["data"] = "Fetch public sources and build the training corpora.",
    ["tokenizer"] = "Train and inspect the byte-level BPE tokenizer.",
    ["import"] = "Import models from other formats.",
    ["export"] = "Export ChatForge models to other formats.",
};

var factories = typeof(Program).Assembly.GetTypes()
    .Where(t => typeof(ICliCommand).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false })
    .Select(t => (ICliCommand)Activator.CreateInstance(t)!)
    .OrderBy(f => f.Group ?? "").ThenBy(f => f.GetType().Name);

foreach (var factory in factories)
{
    var command = factory.Build();
    if (factory.Group is null) { root.Subcommands.Add(command); continue; }
    var group = root.Subcommands.FirstOrDefault(c => c.Name == factory.Group);
    if (group is null)
    {
        group = new Command(factory.Group, groupDescriptions.GetValueOrDefault(factory.Group, ""));
        root.Subcommands.Add(group);
    }
    group.Subcommands.Add(command);
}

return await root.Parse(args).InvokeAsync();

public partial class Program;
