using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Transfer;

/// <summary>
/// A tag of a store as the destination of a transfer: blobs and index children go under <c>blobs/</c> (only those the
/// store lacks; dedup is store-wide by digest), then <c>oci-layout</c> and <c>manifest.json</c> last, with the image's
/// immutability (s3lo.yaml) applied unless forced.
/// </summary>
public sealed class StoreDestination : IGcProtectingDestination
{
    private readonly ImageStore _store;
    private readonly ImageReference _reference;
    private readonly bool _force;

    /// <param name="force">Overwrite the tag even when the image is immutable.</param>
    public StoreDestination(ImageStore store, ImageReference reference, bool force)
    {
        reference.RequireTag("write an image to");
        _store = store;
        _reference = reference;
        _force = force;
    }

    public string Description => _reference.ToString();

    /// <summary>
    /// A blob already in the store is reused, and a garbage collection running now sees it unreferenced until
    /// manifest.json is published. Touching it instead of merely checking it makes it younger than the grace period of
    /// any collection that starts from now on, so the blob survives the upload of the others and the tag is whole when
    /// it appears. It cannot help against a collection that judged the blob before the touch, or a transfer slower than
    /// the grace period: <see cref="RefreshAsync"/> handles that after publishing.
    /// </summary>
    public Task<bool> ContainsAsync(Descriptor descriptor, CancellationToken cancellationToken)
        => _store.TouchBlobAsync(descriptor.Digest, cancellationToken);

    public Task<bool> RefreshAsync(Descriptor descriptor, CancellationToken cancellationToken)
        => _store.TouchBlobAsync(descriptor.Digest, cancellationToken);

    public async Task PutBlobAsync(Descriptor descriptor, Func<CancellationToken, Task<Stream>> open, Action<long> progress,
        CancellationToken cancellationToken)
    {
        var content = await open(cancellationToken).ConfigureAwait(false);
        await _store.PutBlobAsync(descriptor, content, progress, cancellationToken).ConfigureAwait(false);
    }

    public Task PutManifestAsync(Descriptor entry, Manifest manifest, CancellationToken cancellationToken)
        => _store.PutBlobAsync(entry, new MemoryStream(manifest.Bytes, writable: false), null, cancellationToken);

    public async Task<TransferResult> PublishAsync(Manifest root, TransferResult result, CancellationToken cancellationToken)
    {
        await _store.PublishTagAsync(_reference.Name!, _reference.Tag!, root, _force, cancellationToken).ConfigureAwait(false);
        return result with { Reference = Description };
    }

    /// <summary>The store belongs to the caller.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
