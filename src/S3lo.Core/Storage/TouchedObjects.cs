using System.Collections.Concurrent;

namespace S3lo.Core.Storage;

/// <summary>
/// What a store's last touch of each key left (the version it wrote and what it needs to write it again), so that touching
/// the key again can be one conditional request instead of a read and a write. The store's write is conditional on that
/// version, so an entry that is out of date only costs the read again. At most <see cref="MaxEntries"/> keys; beyond that
/// all are forgotten at once.
/// </summary>
internal sealed class TouchedObjects<T> where T : class
{
    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<string, T> _entries = new(StringComparer.Ordinal);

    public T? Get(string key) => _entries.TryGetValue(key, out var entry) ? entry : null;

    public void Set(string key, T entry)
    {
        if (_entries.Count >= MaxEntries) _entries.Clear();
        _entries[key] = entry;
    }

    public void Remove(string key) => _entries.TryRemove(key, out _);
}
