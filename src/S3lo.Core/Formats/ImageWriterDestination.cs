using S3lo.Core.IO;
using S3lo.Core.Oci;
using S3lo.Core.Transfer;

namespace S3lo.Core.Formats;

/// <summary>
/// A file format as the destination of a transfer: an OCI layout, an oci-archive or a docker-archive, written through
/// its <see cref="IImageWriter"/>, which moves the output to its path only when the root is published. A new output
/// holds nothing yet, so every blob is written.
/// </summary>
public sealed class ImageWriterDestination : IConcurrencyLimitedDestination
{
    private readonly IImageWriter _writer;
    private readonly string _path;
    private readonly ImageFormat _format;

    private ImageWriterDestination(IImageWriter writer, string path, ImageFormat format)
    {
        _writer = writer;
        _path = path;
        _format = format;
    }

    /// <summary>Reserves <paramref name="path"/> for the output (see <see cref="ImageWriters.Create"/>).</summary>
    public static ImageWriterDestination Create(ImageFormat format, string path, string? imageName, bool overwrite)
        => new(ImageWriters.Create(format, path, imageName, overwrite), path, format);

    public string Description => _path;

    public int MaxConcurrentBlobWrites => _writer.MaxConcurrentBlobWrites;

    public Task<bool> ContainsAsync(Descriptor descriptor, CancellationToken cancellationToken) => Task.FromResult(false);

    public async Task PutBlobAsync(Descriptor descriptor, Func<CancellationToken, Task<Stream>> open, Action<long> progress,
        CancellationToken cancellationToken)
    {
        var content = await open(cancellationToken).ConfigureAwait(false);
        await using var counted = new CountingReadStream(content, progress);
        await _writer.WriteBlobAsync(descriptor, counted, cancellationToken).ConfigureAwait(false);
    }

    public Task PutManifestAsync(Descriptor entry, Manifest manifest, CancellationToken cancellationToken)
        => _writer.WriteBlobAsync(entry, new MemoryStream(manifest.Bytes, writable: false), cancellationToken);

    public async Task<TransferResult> PublishAsync(ImageToPublish image, TransferResult result, CancellationToken cancellationToken)
    {
        await _writer.CompleteAsync(image.Root, cancellationToken).ConfigureAwait(false);
        return result with { Path = _path, Format = _format };
    }

    /// <summary>Discards the output unless it was published.</summary>
    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
