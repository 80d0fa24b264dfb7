using S3lo.Core.IO;
using S3lo.Core.Oci;

namespace S3lo.Core.Formats;

/// <summary>One platform of a multi-platform source: the index entry's manifest becomes the root.</summary>
public sealed class PlatformImageSource : IImageSource
{
    private readonly IImageSource _inner;

    private PlatformImageSource(IImageSource inner, Manifest root, Platform platform)
    {
        _inner = inner;
        Root = root;
        Platform = platform;
    }

    public string Description => $"{_inner.Description} ({Platform})";

    public Manifest Root { get; }

    public Platform Platform { get; }

    /// <summary>The source itself when its root is not an index; else the entry for <paramref name="platform"/>
    /// (attestations never chosen), read and verified. Disposing the result disposes <paramref name="source"/>.</summary>
    public static async Task<IImageSource> SelectAsync(IImageSource source, Platform platform, CancellationToken cancellationToken)
    {
        if (!source.Root.IsIndex) return source;
        var entry = source.Root.SelectPlatform(platform);
        if (entry.Size > Manifest.MaxBytes)
            throw new S3loException(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
                $"The index entry {entry.Digest} in {source.Description} is too large to be a manifest.", entry.Digest.ToString());
        await using var raw = await source.OpenBlobAsync(entry, cancellationToken).ConfigureAwait(false);
        await using var verified = new VerifyingReadStream(raw, entry.Digest, entry.Size, $"manifest {entry.Digest} in {source.Description}");
        using var buffer = new MemoryStream((int)entry.Size);
        await verified.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return new PlatformImageSource(source, Manifest.Parse(buffer.ToArray(), entry.MediaType), entry.Platform!);
    }

    public Task<Stream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken) => _inner.OpenBlobAsync(descriptor, cancellationToken);

    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
