using System.Collections.Concurrent;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>
/// A real object store with its writes counted: every <see cref="IObjectStore.PutVerifiedAsync"/> and
/// <see cref="IObjectStore.PutBytesAsync(string, ReadOnlyMemory{byte}, ObjectClass, CancellationToken)"/> that reached it,
/// by key and bytes, so tests can assert what a destination actually received rather than what a transfer reports; and
/// its reads (<see cref="IObjectStore.GetBytesAsync"/>, <see cref="IObjectStore.OpenReadAsync"/>) by key, so they can assert
/// what a reader fetched, and the bytes those reads returned (<see cref="BytesReadUnder"/>), so they can assert how much of
/// an object was read. Ranged reads pass through when the inner store has them. Reads from a stream can be held at
/// <see cref="ReadGate"/> to make one slow. Everything else passes straight through.
/// </summary>
public sealed class CountingObjectStore(IObjectStore inner) : IObjectStore, IRangedReads
{
    private readonly ConcurrentQueue<(string Key, long Bytes)> _writes = new();
    private readonly ConcurrentQueue<string> _reads = new();
    private readonly ConcurrentDictionary<string, long> _bytesRead = new();
    private readonly TaskCompletionSource _streamRead = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<string> _requests = new();

    public StoreLocation Location => inner.Location;

    /// <summary>The keys written since the last <see cref="Reset"/> (a key written twice is listed twice).</summary>
    public IReadOnlyList<string> Keys => _writes.Select(w => w.Key).ToList();

    /// <summary>How many writes reached keys starting with <paramref name="prefix"/>, e.g. <c>blobs/</c>.</summary>
    public int WritesUnder(string prefix) => _writes.Count(w => w.Key.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>How many bytes were written under <paramref name="prefix"/>.</summary>
    public long BytesUnder(string prefix) => _writes.Where(w => w.Key.StartsWith(prefix, StringComparison.Ordinal)).Sum(w => w.Bytes);

    /// <summary>The digests of the blobs written, in no particular order.</summary>
    public IReadOnlySet<string> BlobsWritten
        => _writes.Where(w => w.Key.StartsWith(StoreLayout.BlobsPrefix, StringComparison.Ordinal))
            .Select(w => "sha256:" + w.Key[(w.Key.LastIndexOf('/') + 1)..]).ToHashSet();

    /// <summary>The keys read since the last <see cref="Reset"/>, found or not (a key read twice is listed twice).</summary>
    public IReadOnlyList<string> KeysRead => _reads.ToList();

    /// <summary>The keys read under <paramref name="prefix"/>, e.g. <c>chunks/</c>.</summary>
    public IReadOnlyList<string> ReadsUnder(string prefix) => _reads.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList();

    /// <summary>Bytes returned by reads of keys under <paramref name="prefix"/> (whole small objects, and what was read of streams).</summary>
    public long BytesReadUnder(string prefix) => _bytesRead.Where(r => r.Key.StartsWith(prefix, StringComparison.Ordinal)).Sum(r => r.Value);

    /// <summary>Awaited before each read from a stream this store opened; completed unless a test holds it.</summary>
    public Task ReadGate { get; set; } = Task.CompletedTask;

    /// <summary>Completes when a stream this store opened is first read from.</summary>
    public Task FirstStreamRead => _streamRead.Task;

    /// <summary>
    /// Every call that reached the store since the last <see cref="Reset"/>, as "<c>Method key</c>" (a listing as its prefix, a
    /// batch delete once): one per request a remote store gets, at least (a store may page a listing or retry).
    /// </summary>
    public IReadOnlyList<string> Requests => _requests.ToList();

    public void Reset()
    {
        _writes.Clear();
        _reads.Clear();
        _bytesRead.Clear();
        _requests.Clear();
    }

    private void CountRead(string key, long bytes) => _bytesRead.AddOrUpdate(key, bytes, (_, total) => total + bytes);

    public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, CancellationToken cancellationToken)
    {
        _requests.Enqueue("Put " + key);
        _writes.Enqueue((key, data.Length));
        return inner.PutBytesAsync(key, data, objectClass, cancellationToken);
    }

    public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition condition, CancellationToken cancellationToken)
    {
        _requests.Enqueue("PutIf " + key);
        _writes.Enqueue((key, data.Length));
        return inner.PutBytesAsync(key, data, objectClass, condition, cancellationToken);
    }

    public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition? condition,
        IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        _requests.Enqueue((condition is null ? "Put " : "PutIf ") + key);
        _writes.Enqueue((key, data.Length));
        return inner.PutBytesAsync(key, data, objectClass, condition, metadata, cancellationToken);
    }

    public Task PutVerifiedAsync(string key, Stream content, Digest digest, long size, ObjectClass objectClass, Action<long>? progress,
        CancellationToken cancellationToken)
    {
        _requests.Enqueue("PutVerified " + key);
        _writes.Enqueue((key, size));
        return inner.PutVerifiedAsync(key, content, digest, size, objectClass, progress, cancellationToken);
    }

    public Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken) => Count("Head " + key, inner.HeadAsync(key, cancellationToken));

    public async Task<StoredObject?> GetBytesAsync(string key, long maxBytes, CancellationToken cancellationToken)
    {
        _requests.Enqueue("Get " + key);
        _reads.Enqueue(key);
        var stored = await inner.GetBytesAsync(key, maxBytes, cancellationToken);
        if (stored is not null) CountRead(key, stored.Bytes.Length);
        return stored;
    }

    public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        _requests.Enqueue("Open " + key);
        _reads.Enqueue(key);
        return new CountedStream(this, key, await inner.OpenReadAsync(key, cancellationToken));
    }

    public async Task<Stream> OpenReadAsync(string key, long offset, long length, CancellationToken cancellationToken)
    {
        _requests.Enqueue($"Open {key} {offset}+{length}");
        _reads.Enqueue(key);
        var ranged = inner as IRangedReads ?? throw new NotSupportedException($"{inner.Location} has no ranged reads.");
        return new CountedStream(this, key, await ranged.OpenReadAsync(key, offset, length, cancellationToken));
    }

    public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        _requests.Enqueue("List " + prefix);
        return inner.ListAsync(prefix, cancellationToken);
    }

    public Task DeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken) => Count("Delete " + string.Join(",", keys), inner.DeleteAsync(keys, cancellationToken));

    public Task<IReadOnlyList<ObjectInfo>> DeleteIfUnchangedAsync(IReadOnlyCollection<ObjectInfo> judged, CancellationToken cancellationToken)
        => Count("DeleteIfUnchanged", inner.DeleteIfUnchangedAsync(judged, cancellationToken));

    public Task<bool> TouchAsync(string key, CancellationToken cancellationToken) => Count("Touch " + key, inner.TouchAsync(key, cancellationToken));

    public Task<DateTimeOffset> GetClockAsync(CancellationToken cancellationToken) => Count("Clock", inner.GetClockAsync(cancellationToken));

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private sealed class CountedStream(CountingObjectStore owner, string key, Stream inner) : S3lo.Core.IO.ReadOnlyStream
    {
        public override long Length => inner.Length;

        public override int Read(Span<byte> buffer) => ReadBlocking(buffer);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            owner._streamRead.TrySetResult();
            await owner.ReadGate.WaitAsync(cancellationToken);
            var n = await inner.ReadAsync(buffer, cancellationToken);
            owner.CountRead(key, n);
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            GC.SuppressFinalize(this);
        }
    }

    private T Count<T>(string request, T call)
    {
        _requests.Enqueue(request);
        return call;
    }
}
