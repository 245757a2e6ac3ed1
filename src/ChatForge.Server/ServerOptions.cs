namespace ChatForge.Server;

/// <summary>Settings under the "ChatForge" configuration section (appsettings.json, env ChatForge__X, or --ChatForge:X).</summary>
public sealed class ServerOptions
{
    /// <summary>Folder for the SQLite file and the Data-Protection keys; relative to the current directory.</summary>
    public string DataDir { get; set; } = Path.Combine("data", "server");
    /// <summary>"sqlite" (default) or "postgres".</summary>
    public string Database { get; set; } = "sqlite";
    /// <summary>PostgreSQL connection string (Database = postgres) or an explicit SQLite one.</summary>
    public string? ConnectionString { get; set; }
    /// <summary>Folder of the default local model: config.json, model.safetensors, tokenizer files.</summary>
    public string ModelDir { get; set; } = Path.Combine("models", "default");
    /// <summary>How the local model's matmul weights are held in memory: auto (default: a .gguf ModelDir on its own blocks, else bf16), bf16, f32, int8 (per-row scales), q8_0, q4_0, q4_k, q6_k (ggml blocks; a GGUF Q8_0 or Q4_0 import is re-quantised to its exact blocks) or gguf.</summary>
    public string Weights { get; set; } = "auto";
    /// <summary>How the local model's KV cache holds keys and values: auto (default: bf16, f32 for f32 weights), bf16, int8 (a quarter of f32's bytes: more context per sequence and faster decode at long contexts, at a small rounding error) or f32.</summary>
    public string KvCache { get; set; } = "auto";
    /// <summary>Name the default local model is listed under in /v1/models and the UI.</summary>
    public string ModelName { get; set; } = "chatforge";
    /// <summary>Models served by OpenAI-compatible endpoints (vLLM, llama.cpp server, Ollama, another ChatForge).</summary>
    public List<RemoteModelOptions> RemoteModels { get; set; } = new();

    /// <summary>Token cap for one answer; an answer that reaches it is "truncated" and can be continued.</summary>
    public int MaxAnswerTokens { get; set; } = 200;
    /// <summary>Largest message a user may send, in characters.</summary>
    public int MaxMessageChars { get; set; } = 8000;
    /// <summary>Largest request body, in bytes.</summary>
    public long MaxBodyBytes { get; set; } = 256 * 1024;
    public int MaxSystemPromptChars { get; set; } = 4000;
    public int MaxTitleChars { get; set; } = 200;

    /// <summary>Generation requests a user may start per minute.</summary>
    public int RequestsPerMinute { get; set; } = 30;
    /// <summary>Tokens (prompt + answer) a user may spend per UTC day; 0 disables the quota.</summary>
    public long DailyTokenQuota { get; set; } = 200_000;
    /// <summary>Generations decoded at the same time; the engine batches them together.</summary>
    public int MaxConcurrentGenerations { get; set; } = 8;
    /// <summary>Generations allowed to wait for a slot; beyond that requests get 429.</summary>
    public int QueueCapacity { get; set; } = 32;

    public int LockoutFailures { get; set; } = 5;
    public int LockoutMinutes { get; set; } = 5;
    public double DefaultTemperature { get; set; } = 0.7;
}

public sealed class RemoteModelOptions
{
    public string Name { get; set; } = "";
    public string BaseUrl { get; set; } = "";
    public string? ApiKey { get; set; }
    /// <summary>Model id sent to the endpoint; defaults to Name.</summary>
    public string? Model { get; set; }
    public int ContextLength { get; set; } = 4096;
}
