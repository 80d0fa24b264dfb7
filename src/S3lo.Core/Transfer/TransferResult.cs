using S3lo.Core.Formats;

namespace S3lo.Core.Transfer;

/// <summary>What one transfer did, whatever its source and destination: a push, a save, a copy, a load into the daemon.</summary>
public sealed record TransferResult
{
    /// <summary>The image reference the transfer wrote (a store tag, a registry reference); for a file or the Docker
    /// daemon, which have none, the image read.</summary>
    public required string Reference { get; init; }

    /// <summary>What was read: a store or registry reference, an archive or layout path, an image in the daemon.</summary>
    public required string Source { get; init; }

    /// <summary>What was written: the destination's <see cref="IImageDestination.Description"/>.</summary>
    public required string Destination { get; init; }

    /// <summary>The digest of the root manifest published.</summary>
    public required string Digest { get; init; }

    public required string MediaType { get; init; }

    /// <summary>The platform taken from a multi-platform source; null when the source is one image, or the whole index moved.</summary>
    public string? Platform { get; init; }

    /// <summary>Blobs (configs, layers, index child manifests) sent to the destination.</summary>
    public int BlobsUploaded { get; init; }

    /// <summary>Blobs the destination already had.</summary>
    public int BlobsSkipped { get; init; }

    /// <summary>Blobs deleted by a concurrent garbage collection while the transfer ran, and sent again after publishing.</summary>
    public int BlobsRestored { get; init; }

    public long BytesUploaded { get; init; }

    /// <summary>The size of every blob the image has, sent or not.</summary>
    public long BytesTotal { get; init; }

    /// <summary>Chunks of chunked layers stored by this transfer (docs/format.md, "Chunking").</summary>
    public int ChunksUploaded { get; init; }

    /// <summary>Chunks of the image's chunked layers that the store already had.</summary>
    public int ChunksReused { get; init; }

    /// <summary>The uncompressed size of the layers stored chunked, the chunks reused included.</summary>
    public long BytesBeforeCompression { get; init; }

    /// <summary>The size of those layers as stored: their chunks' zstd frames.</summary>
    public long BytesAfterCompression { get; init; }

    public TimeSpan Duration { get; init; }

    /// <summary>For a file format, the path written.</summary>
    public string? Path { get; init; }

    public ImageFormat? Format { get; init; }

    /// <summary>For the Docker daemon, the name the image was loaded under.</summary>
    public string? ImageName { get; init; }

    /// <summary>For the Docker daemon, the names (or, for an untagged image, the ids) it reported as loaded.</summary>
    public IReadOnlyList<string>? Loaded { get; init; }
}
