using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>
/// A real object store with hooks the tests await before chosen calls reach it, to force an interleaving of two
/// operations deterministically (a collection paused between its judgement and its delete, two publishes held at their
/// write until both have checked). Everything else passes straight through.
/// </summary>
public sealed class PausingObjectStore(IObjectStore inner) : IObjectStore
{
    /// <summary>Awaited before each <see cref="IObjectStore.DeleteIfUnchangedAsync"/>, with the objects judged.</summary>
    public Func<IReadOnlyCollection<ObjectInfo>, Task>? BeforeDeleteIfUnchanged { get; set; }

    /// <summary>Awaited before each write of a small object (any overload of PutBytesAsync), with its key.</summary>
    public Func<string, Task>? BeforePutBytes { get; set; }

    /// <summary>Awaited after each touch, with its key.</summary>
    public Func<string, Task>? AfterTouch { get; set; }

    /// <summary>Awaited after each <see cref="IObjectStore.GetClockAsync"/> (a collection reads the clock first, then marks).</summary>
    public Func<Task>? AfterGetClock { get; set; }

    public StoreLocation Location => inner.Location;

    public async Task<IReadOnlyList<ObjectInfo>> DeleteIfUnchangedAsync(IReadOnlyCollection<ObjectInfo> judged, CancellationToken cancellationToken)
    {
        if (BeforeDeleteIfUnchanged is { } hook) await hook(judged);
        return await inner.DeleteIfUnchangedAsync(judged, cancellationToken);
    }

    public async Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, CancellationToken cancellationToken)
    {
        if (BeforePutBytes is { } hook) await hook(key);
        await inner.PutBytesAsync(key, data, objectClass, cancellationToken);
    }

    public async Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition condition, CancellationToken cancellationToken)
    {
        if (BeforePutBytes is { } hook) await hook(key);
        await inner.PutBytesAsync(key, data, objectClass, condition, cancellationToken);
    }

    public async Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition? condition,
        IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        if (BeforePutBytes is { } hook) await hook(key);
        await inner.PutBytesAsync(key, data, objectClass, condition, metadata, cancellationToken);
    }

    public Task PutVerifiedAsync(string key, Stream content, Digest digest, long size, ObjectClass objectClass, Action<long>? progress,
        CancellationToken cancellationToken)
        => inner.PutVerifiedAsync(key, content, digest, size, objectClass, progress, cancellationToken);

    public Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken) => inner.HeadAsync(key, cancellationToken);

    public Task<StoredObject?> GetBytesAsync(string key, long maxBytes, CancellationToken cancellationToken) => inner.GetBytesAsync(key, maxBytes, cancellationToken);

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => inner.OpenReadAsync(key, cancellationToken);

    public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

    public Task DeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken) => inner.DeleteAsync(keys, cancellationToken);

    public async Task<bool> TouchAsync(string key, CancellationToken cancellationToken)
    {
        var touched = await inner.TouchAsync(key, cancellationToken);
        if (AfterTouch is { } hook) await hook(key);
        return touched;
    }

    public async Task<DateTimeOffset> GetClockAsync(CancellationToken cancellationToken)
    {
        var clock = await inner.GetClockAsync(cancellationToken);
        if (AfterGetClock is { } hook) await hook();
        return clock;
    }

    /// <summary>The inner store belongs to the test, which disposes it.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
