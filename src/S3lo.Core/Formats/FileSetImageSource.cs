using S3lo.Core.Oci;

namespace S3lo.Core.Formats;

/// <summary>An image source whose blobs are files of an <see cref="IFileSet"/>: OCI layouts, oci-archives and docker-save archives.</summary>
internal sealed class FileSetImageSource(IFileSet files, Manifest root, Func<Descriptor, string?> blobPath) : IImageSource
{
    public string Description => files.Description;

    public Manifest Root => root;

    public Task<Stream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken)
    {
        var stream = blobPath(descriptor) is { } path ? files.TryOpenRead(path) : null;
        return stream is not null ? Task.FromResult(stream) : throw BlobNotFound(descriptor, files.Description);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    internal static S3loException BlobNotFound(Descriptor descriptor, string source)
        => new(ErrorIds.BlobNotFound, S3loErrorKind.NotFound,
            $"The blob {descriptor.Digest} ({descriptor.MediaType}) is referenced but missing from {source}.", descriptor.Digest.ToString());
}
