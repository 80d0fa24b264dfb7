using S3lo.Core.Oci;

namespace S3lo.Core.Formats;

/// <summary>One platform of a multi-platform source: the index entry's manifest becomes the root.</summary>
public sealed class PlatformImageSource : ISelectedPlatformSource
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

    public Platform? SelectedPlatform => Platform;

    /// <summary>The source itself when its root is not an index; else the entry for <paramref name="platform"/>
    /// (attestations never chosen), read and verified. Disposing the result disposes <paramref name="source"/>.</summary>
    public static async Task<IImageSource> SelectAsync(IImageSource source, Platform platform, CancellationToken cancellationToken)
    {
        if (!source.Root.IsIndex) return source;
        var entry = source.Root.SelectPlatform(platform);
        var root = await ManifestBlob.ReadAsync(source, entry, cancellationToken).ConfigureAwait(false);
        return new PlatformImageSource(source, root, entry.Platform!);
    }

    public Task<Stream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken) => _inner.OpenBlobAsync(descriptor, cancellationToken);

    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
