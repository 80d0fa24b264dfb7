using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Catalog;

public enum ImageKind
{
    Image,
    Index,
    /// <summary>A tag whose manifest or config cannot be read; it can still be removed.</summary>
    Unknown,
}

/// <summary>One tag of a store, as Get-S3loImage lists it.</summary>
public record ImageInfo
{
    /// <summary>The store as a reference prefix (<c>s3://bucket/</c>).</summary>
    public required string Store { get; init; }
    public required string Name { get; init; }
    public required string Tag { get; init; }
    public required string Reference { get; init; }
    public required string Digest { get; init; }
    public required ImageKind Kind { get; init; }
    public required string MediaType { get; init; }
    /// <summary>The platforms the image runs on; attestation entries of an index are not listed.</summary>
    public required IReadOnlyList<string> Platforms { get; init; }
    /// <summary>Bytes of the manifest, config and layers (for an index, of every platform's image; shared blobs once).</summary>
    public required long Size { get; init; }
    public required DateTimeOffset LastModified { get; init; }
    /// <summary>The store and how to reach it, so the object can be piped to another cmdlet.</summary>
    public required StoreLocation Location { get; init; }

    public ImageReference ToReference() => ImageReference.Create(Location, Name, Tag, null);

    public override string ToString() => Reference;
}

/// <summary>A blob a manifest references.</summary>
public sealed record BlobInfo(string Digest, long Size, string MediaType)
{
    internal static BlobInfo From(Descriptor d) => new(d.Digest.ToString(), d.Size, d.MediaType);
}

/// <summary>One entry of an image index.</summary>
public sealed record PlatformManifest(string Platform, string Digest, long Size, string MediaType, bool IsAttestation);

/// <summary>A manifest as Get-S3loManifest shows it, raw JSON included.</summary>
public sealed record ManifestInfo
{
    public required string Reference { get; init; }
    public required string Digest { get; init; }
    public required string MediaType { get; init; }
    public required ImageKind Kind { get; init; }
    /// <summary>The platform chosen from an index with -Platform; null otherwise.</summary>
    public string? Platform { get; init; }
    public BlobInfo? Config { get; init; }
    public required IReadOnlyList<BlobInfo> Layers { get; init; }
    /// <summary>For an index, every entry (attestations flagged).</summary>
    public required IReadOnlyList<PlatformManifest> Manifests { get; init; }
    public required IReadOnlyDictionary<string, string> Annotations { get; init; }
    public required long Size { get; init; }
    public required string Json { get; init; }

    public override string ToString() => Reference;
}
