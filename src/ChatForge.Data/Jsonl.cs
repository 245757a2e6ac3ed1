using System.Text.Encodings.Web;
using System.Text.Json;

namespace ChatForge.Data;

public static class Jsonl
{
    /// <summary>Compact, and Chinese written as characters rather than \u escapes so the files stay readable.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = false,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };
}
