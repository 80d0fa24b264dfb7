using S3lo.Core.Oci;

namespace S3lo.Core.Storage;

/// <summary>What a listing or a HEAD says about one object.</summary>
public sealed record ObjectInfo(string Key, long Size, DateTimeOffset LastModified, string? ETag = null, string? StorageClass = null);

/// <summary>An object read whole (manifests, small metadata), with what the store says about it.</summary>
public sealed record StoredObject(byte[] Bytes, ObjectInfo Info)
{
    /// <summary>The object metadata written with it (<see cref="IObjectStore.PutBytesAsync(string, ReadOnlyMemory{byte}, ObjectClass, WriteCondition?, IReadOnlyDictionary{string, string}, CancellationToken)"/>),
    /// names in lowercase; empty on a store that keeps none (local) or for an object written without any.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = ObjectMetadata.None;
}

/// <summary>Object metadata: a few short ASCII values stored beside an object's bytes (S3 user metadata, Azure blob
/// metadata) and returned by the same read. Names are lowercase letters and digits, which both stores accept.</summary>
public static class ObjectMetadata
{
    public static readonly IReadOnlyDictionary<string, string> None = new Dictionary<string, string>();

    /// <summary>The metadata as a store returned it, names lowercased (S3 sends its <c>x-amz-meta-</c> prefix with them).</summary>
    public static IReadOnlyDictionary<string, string> FromStore(IEnumerable<KeyValuePair<string, string>> metadata)
    {
        const string amzPrefix = "x-amz-meta-";
        var read = new Dictionary<string, string>();
        foreach (var (name, value) in metadata)
        {
            var bare = name.StartsWith(amzPrefix, StringComparison.OrdinalIgnoreCase) ? name[amzPrefix.Length..] : name;
            read[bare.ToLowerInvariant()] = value;
        }
        return read.Count == 0 ? None : read;
    }
}

/// <summary>Which storage class an object gets on S3: blobs go to the cheap tier, metadata stays hot.</summary>
public enum ObjectClass
{
    Blob,
    Metadata,
}

/// <summary>
/// The engine's view of a store: a flat key space with '/'-separated keys, the same for a bucket and a
/// directory. Implementations translate their own failures into <see cref="S3loException"/>s.
/// </summary>
public interface IObjectStore : IAsyncDisposable
{
    StoreLocation Location { get; }

    /// <summary>Metadata of one object, or null when it does not exist.</summary>
    Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken);

    /// <summary>Reads a small object whole; null when it does not exist; <c>ObjectTooLarge</c> beyond <paramref name="maxBytes"/>.</summary>
    Task<StoredObject?> GetBytesAsync(string key, long maxBytes, CancellationToken cancellationToken);

    /// <summary>Streams an object; throws <see cref="ObjectNotFoundException"/> when it does not exist.</summary>
    Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken);

    /// <summary>Writes a small object atomically (readers see the old or the new bytes, never a part).</summary>
    Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a small object atomically only if <paramref name="condition"/> holds at the moment of the write
    /// (create-only, or replace-only-this-version), so of two racing writers at most one wins; the loser gets
    /// <see cref="PreconditionFailedException"/>.
    /// </summary>
    Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition condition, CancellationToken cancellationToken);

    /// <summary>
    /// A write as above (unconditional when <paramref name="condition"/> is null) that stores <paramref name="metadata"/>
    /// with the object in the same request, returned by <see cref="GetBytesAsync"/> in <see cref="StoredObject.Metadata"/>;
    /// a later write without metadata leaves none. A store that keeps no object metadata (the local one) writes the bytes alone.
    /// </summary>
    Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition? condition,
        IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken);

    /// <summary>
    /// Streams <paramref name="size"/> bytes into <paramref name="key"/> and publishes them only if they
    /// hash to <paramref name="digest"/>: a mismatch throws <c>DigestMismatch</c> and leaves nothing under the key.
    /// <paramref name="progress"/> receives byte counts as they are stored. A <see cref="IO.VerifyingReadStream"/> for this digest
    /// and size that nothing has read yet is hashed through, not wrapped again (<see cref="IO.VerifyingReadStream.Over"/>).
    /// </summary>
    Task PutVerifiedAsync(string key, Stream content, Digest digest, long size, ObjectClass objectClass,
        Action<long>? progress, CancellationToken cancellationToken);

    /// <summary>Every object whose key starts with <paramref name="prefix"/>, yielded as the listing proceeds.</summary>
    IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>Deletes exactly these keys; missing keys are not an error.</summary>
    Task DeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes each of <paramref name="judged"/> only if it is still the version described (its LastModified and, where
    /// the store has them, its ETag, as a HEAD or listing reported them), and returns those deleted. A touch or a rewrite
    /// that lands after the judgement saves the object: the local store moves the file aside and compares it there, Azure
    /// deletes with If-Match, S3 with If-Match and RGW's x-amz-delete-if-unmodified-since (AWS honours neither for a touch:
    /// see docs/format.md, "Garbage collection"). An object already gone is skipped, except on S3, where a DELETE of a
    /// missing key succeeds and the object is reported as deleted.
    /// </summary>
    Task<IReadOnlyList<ObjectInfo>> DeleteIfUnchangedAsync(IReadOnlyCollection<ObjectInfo> judged, CancellationToken cancellationToken);

    /// <summary>
    /// Sets an object's LastModified to now without changing its bytes, so that a garbage collection
    /// judging age by LastModified sees it as new. False when the object does not exist.
    /// </summary>
    Task<bool> TouchAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// The current time as the store itself keeps it: LastModified values are stamped by this clock, so
    /// ages compared against it are right even when the local clock is off.
    /// </summary>
    Task<DateTimeOffset> GetClockAsync(CancellationToken cancellationToken);
}

/// <summary>When a conditional write may happen: the key must not exist, or must still hold the version read.</summary>
public readonly record struct WriteCondition
{
    private WriteCondition(bool mustNotExist, string? expectedETag)
    {
        MustNotExist = mustNotExist;
        ExpectedETag = expectedETag;
    }

    public bool MustNotExist { get; }

    /// <summary>The ETag (<see cref="ObjectInfo.ETag"/> from a read) the object must still have.</summary>
    public string? ExpectedETag { get; }

    public static WriteCondition IfNotExists => new(true, null);

    public static WriteCondition IfUnchanged(string etag) => new(false, etag);
}

public sealed class PreconditionFailedException(string key, StoreLocation store)
    : S3loException(ErrorIds.PreconditionFailed, S3loErrorKind.ResourceExists,
        $"'{key}' in {store} was written by someone else meanwhile.", key);

public sealed class ObjectNotFoundException(string key, StoreLocation store)
    : S3loException(ErrorIds.ObjectNotFound, S3loErrorKind.NotFound, $"'{key}' does not exist in {store}.", key);

/// <summary>Errors every object store raises alike.</summary>
public static class StoreErrors
{
    public static S3loException TooLarge(string key, long max)
        => new(ErrorIds.ObjectTooLarge, S3loErrorKind.InvalidData, $"'{key}' is larger than the {max} bytes allowed for it.", key);
}
