using System.CommandLine;

namespace ChatForge.Cli;

/// <summary>
/// One command of the `chatforge` tool. Implementations are found by reflection, so a pipeline
/// stage adds its command by adding one class under Commands/ and never edits Program.cs.
/// </summary>
public interface ICliCommand
{
    /// <summary>Name of the group this command sits under (e.g. "bench", "data", "tokenizer"), or null for a top-level command.</summary>
    string? Group => null;

    Command Build();
}
