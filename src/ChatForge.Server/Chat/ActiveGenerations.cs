using System.Collections.Concurrent;

namespace ChatForge.Server.Chat;

/// <summary>Generations running on this node, so Stop can cancel them (a disconnecting client cancels its own).</summary>
public sealed class ActiveGenerations
{
    readonly ConcurrentDictionary<string, (string ChatId, CancellationTokenSource Cts)> _byMessage = new();

    public IDisposable Register(string chatId, string messageId, CancellationTokenSource cts)
    {
        _byMessage[messageId] = (chatId, cts);
        return new Registration(() => _byMessage.TryRemove(messageId, out _));
    }

    public bool IsRunning(string messageId) => _byMessage.ContainsKey(messageId);

    /// <summary>Cancels every generation of the chat; returns how many were running.</summary>
    public int StopChat(string chatId)
    {
        int n = 0;
        foreach (var (_, entry) in _byMessage)
            if (entry.ChatId == chatId) { try { entry.Cts.Cancel(); n++; } catch (ObjectDisposedException) { } }
        return n;
    }

    sealed class Registration(Action release) : IDisposable
    {
        public void Dispose() => release();
    }
}
