using ChatForge.Server.Http;
using Microsoft.Extensions.Options;

namespace ChatForge.Server.Models;

/// <summary>
/// Admission to the generator: up to MaxConcurrentGenerations decode together (the engine batches them,
/// continuous batching), up to QueueCapacity more wait in line, and beyond that the request is refused
/// with 429 before anything is stored.
/// </summary>
public sealed class GenerationGate(IOptions<ServerOptions> options)
{
    readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrentGenerations, options.Value.MaxConcurrentGenerations);
    readonly int _limit = options.Value.MaxConcurrentGenerations + options.Value.QueueCapacity;
    int _admitted;

    public int Active => options.Value.MaxConcurrentGenerations - _slots.CurrentCount;
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>Takes a place in line or throws 429 when the queue is full.</summary>
    public Ticket Enter()
    {
        if (Interlocked.Increment(ref _admitted) > _limit)
        {
            Interlocked.Decrement(ref _admitted);
            throw ApiException.TooMany($"The server is busy: {_limit} generations are running or waiting. Try again shortly.", 5, "queue_full");
        }
        return new Ticket(this);
    }

    public sealed class Ticket(GenerationGate gate) : IDisposable
    {
        bool _holdsSlot, _disposed;

        /// <summary>Waits for a decoding slot (the request's place in the queue).</summary>
        public async Task WaitAsync(CancellationToken ct)
        {
            await gate._slots.WaitAsync(ct);
            _holdsSlot = true;
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            if (_holdsSlot) gate._slots.Release();
            Interlocked.Decrement(ref gate._admitted);
        }
    }
}
