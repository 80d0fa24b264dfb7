using S3lo.Core.Formats;
using S3lo.Core.Oci;

namespace S3lo.Core.Transfer;

/// <summary>
/// Where <see cref="ImageTransfer"/> moves an image to: a store tag, a registry, a file format, the Docker daemon.
/// The engine asks which blobs the destination already has, puts the others (each verified as it is read from the
/// source), then an index's child manifests deepest first, and publishes the root last, so the image appears whole
/// or not at all. Disposing a destination that was not published discards what it holds for the image, where it can.
/// </summary>
public interface IImageDestination : IAsyncDisposable
{
    /// <summary>How messages and results name the destination, e.g. the tag or the path written.</summary>
    string Description { get; }

    /// <summary>Whether the destination already holds this blob or index child manifest, so it need not be sent.</summary>
    Task<bool> ContainsAsync(Descriptor descriptor, CancellationToken cancellationToken);

    /// <summary>
    /// Stores one blob (a config or a layer). <paramref name="open"/> gives a stream of the source's bytes that throws
    /// <c>DigestMismatch</c> or <c>SizeMismatch</c> at its end if they are not the descriptor's, so the destination must
    /// read to the end before it accepts them; a destination that starts a failed attempt over calls it again. The engine
    /// owns the streams and disposes them. <paramref name="progress"/> takes the bytes stored as they are, and a failed
    /// attempt's count back (negative) when it starts over.
    /// </summary>
    Task PutBlobAsync(Descriptor descriptor, Func<CancellationToken, Task<Stream>> open, Action<long> progress, CancellationToken cancellationToken);

    /// <summary>Stores a child manifest of an index, whose bytes the engine read and verified; called after every blob
    /// and deepest first, so each manifest arrives after everything it names.</summary>
    Task PutManifestAsync(Descriptor entry, Manifest manifest, CancellationToken cancellationToken);

    /// <summary>Publishes the root manifest, last: the tag, the finished file, the loaded image. Returns
    /// <paramref name="result"/> with what the destination adds to it (the reference written, the path, the names loaded).</summary>
    Task<TransferResult> PublishAsync(ImageToPublish image, TransferResult result, CancellationToken cancellationToken);
}

/// <summary>
/// The image a destination publishes: the root manifest and an index's child manifests as the destination received them
/// (rewritten where it stored layers its own way), and the root config read again from the source, verified. A store
/// takes what its listings show from these, not from what it holds: a concurrent garbage collection may have deleted a
/// reused blob there, which the engine restores only after the publish.
/// </summary>
public sealed class ImageToPublish
{
    private readonly IImageSource _source;
    private readonly Dictionary<Digest, Manifest> _children;

    internal ImageToPublish(Manifest root, IEnumerable<ChildManifest> children, IImageSource source)
    {
        Root = root;
        _source = source;
        _children = children.DistinctBy(c => c.Entry.Digest).ToDictionary(c => c.Entry.Digest, c => c.Manifest);
    }

    public Manifest Root { get; }

    /// <summary>The child manifest of the root index with this digest, as published; null for one the image does not have.</summary>
    public Manifest? Child(Digest digest) => _children.GetValueOrDefault(digest);

    /// <summary>The root image's config bytes from the source, verified against its descriptor.</summary>
    public Task<byte[]> ReadConfigAsync(CancellationToken cancellationToken)
        => ManifestRewriter.ReadConfigAsync(_source, Root.Config ?? throw new InvalidOperationException("An index has no config."), cancellationToken);
}

/// <summary>
/// A destination that a garbage collection may sweep while an image moves into it (a store): a collection that judged
/// a blob unreferenced before the publish may delete it after. The engine refreshes every blob once the root is
/// published and sends again those already gone.
/// </summary>
public interface IGcProtectingDestination : IImageDestination
{
    /// <summary>Makes the blob count as new to any collection that missed the publish; false when it is already gone.</summary>
    Task<bool> RefreshAsync(Descriptor descriptor, CancellationToken cancellationToken);
}

/// <summary>A destination that takes fewer blobs at once than the engine would send (a tar file is one stream).</summary>
public interface IConcurrencyLimitedDestination : IImageDestination
{
    int MaxConcurrentBlobWrites { get; }
}

/// <summary>
/// A destination that stores layers in a form of its own choosing (a store that chunks them, docs/format.md "Chunking"),
/// which may give a layer another descriptor: the engine hands it every tar layer with its diff_id, then rewrites the
/// manifests whose layers changed (and the indexes above them) and publishes those new documents.
/// </summary>
public interface ILayerStoringDestination : IImageDestination
{
    /// <summary>Asked once, before anything is sent: whether this transfer hands its layers to <see cref="StoreLayerAsync"/>.
    /// A store reads its policy here, and refuses a chunk format it does not write before writing anything.</summary>
    Task<bool> TakesLayersAsync(CancellationToken cancellationToken);

    /// <summary>The layer as the destination already holds it (refreshed for a concurrent garbage collection, as
    /// <see cref="IImageDestination.ContainsAsync"/> does), or null when it must be stored.</summary>
    Task<StoredLayer?> FindLayerAsync(LayerToStore layer, CancellationToken cancellationToken);

    /// <summary>Stores the layer from the source's bytes (<paramref name="open"/>, verified as for
    /// <see cref="IImageDestination.PutBlobAsync"/>) and says how it is stored.</summary>
    Task<StoredLayer> StoreLayerAsync(LayerToStore layer, Func<CancellationToken, Task<Stream>> open, Action<long> progress,
        CancellationToken cancellationToken);
}

/// <summary>A tar layer of the image: its descriptor in the source, the digest of its uncompressed tar (the config's
/// diff_id), and the source, which may hold it in a form the destination can take as it is.</summary>
public sealed record LayerToStore(Descriptor Descriptor, Digest DiffId, IImageSource Source);

/// <summary>How a destination holds a layer: its descriptor there (the source's, or a new one), and for a chunked layer
/// what storing it did.</summary>
public sealed record StoredLayer(Descriptor Descriptor, Chunking.ChunkedLayerStats Chunks, long BytesUploaded);
