using S3lo.Core.Catalog;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Formats;

/// <summary>
/// An image in a store, as a source for a push into another store (or another tag): the tag's manifest
/// verbatim, or with a platform the index entry for it; blobs are streamed from the store.
/// </summary>
public sealed class StoreImageSource : IImageSource
{
    private readonly ImageStore _store;

    private StoreImageSource(ImageStore store, ResolvedImage image, Manifest root)
    {
        _store = store;
        Image = image;
        Root = root;
    }

    public string Description => Image.Reference.ToString();

    /// <summary>The image as found in the store (its tag, when the reference named one).</summary>
    public ResolvedImage Image { get; }

    public Manifest Root { get; }

    /// <summary>Whether the root is the stored manifest itself (not one platform taken from an index).</summary>
    public bool IsVerbatim => Root.Digest == Image.Manifest.Digest;

    public static async Task<StoreImageSource> OpenAsync(ImageStore store, ImageReference reference, Platform? platform,
        CancellationToken cancellationToken)
    {
        var image = await ImageResolver.ResolveAsync(store, reference, cancellationToken).ConfigureAwait(false);
        var root = platform is null || !image.Manifest.IsIndex
            ? image.Manifest
            : (await ImageResolver.SelectPlatformAsync(store, image.Manifest, platform, cancellationToken).ConfigureAwait(false)).Manifest;
        return new StoreImageSource(store, image, root);
    }

    public Task<Stream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken)
        => _store.OpenBlobContentAsync(descriptor, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
