using S3lo.Core.IO;
using S3lo.Core.Oci;

namespace S3lo.Core.Formats;

/// <summary>Reads a manifest (or index) blob whole, checked against the descriptor that names it.</summary>
internal static class ManifestBlob
{
    /// <summary>The manifest <paramref name="descriptor"/> names, from <paramref name="source"/>.</summary>
    public static Task<Manifest> ReadAsync(IImageSource source, Descriptor descriptor, CancellationToken cancellationToken)
        => ReadAsync(descriptor, source.Description, ct => source.OpenBlobAsync(descriptor, ct), cancellationToken);

    /// <summary>
    /// Refuses a descriptor larger than <see cref="Manifest.MaxBytes"/> before opening anything, then reads the stream
    /// <paramref name="open"/> gives through a digest and size check and parses it (the manifest keeps the bytes).
    /// </summary>
    /// <param name="where">How messages name the place the blob is read from, e.g. the source's description.</param>
    public static async Task<Manifest> ReadAsync(Descriptor descriptor, string where, Func<CancellationToken, Task<Stream>> open,
        CancellationToken cancellationToken)
    {
        if (descriptor.Size > Manifest.MaxBytes)
            throw new S3loException(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
                $"The manifest {descriptor.Digest} in {where} claims {descriptor.Size} bytes, more than a manifest may have.", descriptor.Digest.ToString());
        var raw = await open(cancellationToken).ConfigureAwait(false);
        await using var verified = new VerifyingReadStream(raw, descriptor.Digest, descriptor.Size, $"manifest {descriptor.Digest} in {where}");
        using var buffer = new MemoryStream((int)descriptor.Size);
        await verified.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Manifest.Parse(buffer.ToArray(), descriptor.MediaType);
    }
}
