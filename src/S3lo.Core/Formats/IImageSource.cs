using S3lo.Core.Oci;

namespace S3lo.Core.Formats;

/// <summary>
/// Where a transfer reads an image from: a docker-save archive, an OCI layout, an oci-archive, a store, a
/// Docker daemon or a registry. A source exposes one root manifest (an image manifest or an index) and
/// the blobs it references by digest; the transfer engine walks the tree and verifies every byte it reads.
/// </summary>
public interface IImageSource : IAsyncDisposable
{
    /// <summary>How messages name this source, e.g. the archive path.</summary>
    string Description { get; }

    /// <summary>The chosen image's root manifest: exact bytes (an index is kept verbatim).</summary>
    Manifest Root { get; }

    /// <summary>Opens a blob (config, layer or child manifest) the root tree references. The stream yields
    /// the raw stored bytes; callers verify them against the digest.</summary>
    Task<Stream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken);
}

/// <summary>A source that took one platform's image from a multi-platform one; a transfer's result names the platform.</summary>
public interface ISelectedPlatformSource : IImageSource
{
    /// <summary>The platform of the index entry taken, or null when the source was a single image to begin with.</summary>
    Platform? SelectedPlatform { get; }
}

/// <summary>
/// How a file format writes an image, as the destination of a transfer (<see cref="ImageWriterDestination"/>). Blobs
/// (and an index's child manifests) arrive verified, in any order, possibly concurrently (an implementation that cannot
/// take concurrent writes says so through <see cref="MaxConcurrentBlobWrites"/>); <see cref="CompleteAsync"/> is called
/// once, after every blob, with the root manifest that names them.
/// Output goes to a temporary place and only <see cref="CompleteAsync"/> moves it to its final path.
/// </summary>
public interface IImageWriter : IAsyncDisposable
{
    int MaxConcurrentBlobWrites { get; }

    /// <summary>Writes one blob; <paramref name="content"/> yields exactly descriptor.Size bytes, verified.</summary>
    Task WriteBlobAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken);

    /// <summary>Writes the manifest and any index/metadata files, then moves the finished output into place.</summary>
    Task CompleteAsync(Manifest manifest, CancellationToken cancellationToken);
}
