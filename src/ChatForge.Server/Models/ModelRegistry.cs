using System.Collections.Concurrent;
using ChatForge.Server.Http;
using Microsoft.Extensions.Options;

namespace ChatForge.Server.Models;

/// <summary>
/// The models this server answers with, by name. The local model can be replaced while the server runs
/// (admin "load model"); generations already running keep the backend they started with.
/// </summary>
public sealed class ModelRegistry : IDisposable
{
    readonly ConcurrentDictionary<string, ModelBackend> _backends = new(StringComparer.OrdinalIgnoreCase);
    readonly ILocalModelLoader _loader;
    readonly ILogger<ModelRegistry> _log;
    readonly object _reloadLock = new();

    public ModelRegistry(IOptions<ServerOptions> options, ILocalModelLoader loader, IHttpClientFactory httpFactory, ILogger<ModelRegistry> log)
    {
        var o = options.Value;
        _loader = loader;
        _log = log;
        DefaultName = o.ModelName;
        DefaultTemperature = o.DefaultTemperature;
        MaxAnswerTokens = o.MaxAnswerTokens;
        foreach (var remote in o.RemoteModels)
        {
            if (string.IsNullOrWhiteSpace(remote.Name) || string.IsNullOrWhiteSpace(remote.BaseUrl))
                throw new InvalidOperationException("ChatForge:RemoteModels: every entry needs a Name and a BaseUrl.");
            var http = httpFactory.CreateClient("model:" + remote.Name);
            http.Timeout = Timeout.InfiniteTimeSpan; // streams last as long as the answer
            _backends[remote.Name] = new OpenAiCompatibleBackend(http, remote.Name, remote.BaseUrl, remote.ApiKey, remote.Model ?? remote.Name, remote.ContextLength);
        }
        if (!_backends.ContainsKey(DefaultName)) TryLoadLocal(o.ModelDir);
    }

    public string DefaultName { get; }
    public double DefaultTemperature { get; }
    public int MaxAnswerTokens { get; }
    /// <summary>Why the local model is not loaded (missing folder, bad file), shown by the UI and in 503 answers.</summary>
    public string? LocalLoadError { get; private set; }
    public string? LocalModelDir { get; private set; }

    public IReadOnlyCollection<ModelBackend> All => _backends.Values.OrderBy(b => b.Name).ToList();

    public ModelBackend? TryGet(string? name) => _backends.TryGetValue(name ?? DefaultName, out var b) ? b : null;

    public ModelBackend Get(string? name)
    {
        if (TryGet(name) is { } backend) return backend;
        string wanted = name ?? DefaultName;
        if (string.Equals(wanted, DefaultName, StringComparison.OrdinalIgnoreCase))
            throw ApiException.NoModel($"No model is loaded: {LocalLoadError ?? "no model configured"}. An admin can load one (Admin → Models), or start the server with --ChatForge:ModelDir <folder>.");
        throw new ApiException(404, $"The model '{wanted}' does not exist. Available: {string.Join(", ", _backends.Keys.DefaultIfEmpty("none"))}.", "invalid_request_error", "model_not_found", "model");
    }

    /// <summary>Adds or replaces a backend (tests, and loading a model by hand).</summary>
    public void Set(ModelBackend backend) => _backends[backend.Name] = backend;

    /// <summary>Loads the local model from a folder; on failure the previous model stays and the error is returned.</summary>
    public string? TryLoadLocal(string dir)
    {
        lock (_reloadLock)
        {
            LocalModelDir = dir;
            try
            {
                var backend = _loader.Load(dir, DefaultName);
                _backends[DefaultName] = backend;
                LocalLoadError = null;
                _log.LogInformation("Loaded model {Name} version {Version} from {Dir}", backend.Name, backend.Version, dir);
                return null;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Missing folder, corrupted weights or tokenizer: the messages name the file.
                string error = e.Message;
                if (!_backends.ContainsKey(DefaultName)) LocalLoadError = error;
                _log.LogWarning("No local model loaded from {Dir}: {Error}", dir, error);
                return error;
            }
        }
    }

    public void Dispose()
    {
        foreach (var b in _backends.Values) b.Dispose();
    }
}

/// <summary>Builds the local backend from a model folder (config.json, model.safetensors, tokenizer files).</summary>
public interface ILocalModelLoader
{
    ModelBackend Load(string dir, string name);
}
