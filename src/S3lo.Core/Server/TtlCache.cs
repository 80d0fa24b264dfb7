using System.Collections.Concurrent;
using System.Diagnostics;

namespace S3lo.Core.Server;

/// <summary>
/// Values kept for a short time, each loaded once however many requests ask for it at the same moment. A load is
/// shared, so it runs without any one caller's token; each caller stops waiting on its own. A failed load is not kept.
/// At most about <c>maxEntries</c> values are kept.
/// </summary>
internal sealed class TtlCache<TKey, TValue>(TimeSpan ttl, int maxEntries = 4096) where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Entry> _entries = new();

    /// <summary>The values kept now, loaded or loading.</summary>
    public int Count => _entries.Count;

    public Task<TValue> GetAsync(TKey key, Func<TKey, Task<TValue>> load, CancellationToken cancellationToken)
    {
        var now = Stopwatch.GetTimestamp();
        while (true)
        {
            if (_entries.TryGetValue(key, out var entry) && !entry.Value.IsFaulted && !entry.Value.IsCanceled
                && (!entry.Value.IsCompleted || Stopwatch.GetElapsedTime(entry.Loaded, now) < ttl))
                return entry.Value.WaitAsync(cancellationToken);
            var fresh = new Entry(now, new Lazy<Task<TValue>>(() => Task.Run(() => load(key), CancellationToken.None)));
            var won = entry is null ? _entries.TryAdd(key, fresh) : _entries.TryUpdate(key, fresh, entry);
            if (!won) continue;
            if (_entries.Count > maxEntries) Prune(now);
            return fresh.Value.WaitAsync(cancellationToken);
        }
    }

    // Expired entries go first; if that is not enough (many fresh ones), the oldest loaded go too, down to nine tenths of
    // the limit, so that a full cache is pruned once per tenth of its size rather than on every load.
    private void Prune(long now)
    {
        foreach (var (key, entry) in _entries)
        {
            if (entry.Value.IsCompleted && Stopwatch.GetElapsedTime(entry.Loaded, now) >= ttl) _entries.TryRemove(KeyValuePair.Create(key, entry));
        }
        var excess = _entries.Count - maxEntries * 9 / 10;
        if (_entries.Count <= maxEntries || excess <= 0) return;
        foreach (var (key, entry) in _entries.Where(e => e.Value.Value.IsCompleted).OrderBy(e => e.Value.Loaded).Take(excess).ToList())
            _entries.TryRemove(KeyValuePair.Create(key, entry));
    }

    private sealed class Entry(long loaded, Lazy<Task<TValue>> value)
    {
        public long Loaded { get; } = loaded;
        public Task<TValue> Value => value.Value;
    }
}
