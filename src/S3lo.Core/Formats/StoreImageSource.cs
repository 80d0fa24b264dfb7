using S3lo.Core.Catalog;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Formats;

/// <summary>
/// An image in a store, as the source of a transfer (a copy to another store or tag, or to a registry, a save): the
/// tag's manifest verbatim, or with a platform the index entry for it; blobs are streamed from the store.
/// </summary>
public sealed class StoreImageSource : ISelectedPlatformSource
{
    private readonly ImageStore _store;

    private StoreImageSource(ImageStore store, ResolvedImage image, Manifest root, Platform? selectedPlatform)
    {
        _store = store;
        Image = image;
        Root = root;
        SelectedPlatform = selectedPlatform;
    }

    public string Description => Image.Reference.ToString();

    /// <summary>The image as found in the store (its tag, when the reference named one).</summary>
    public ResolvedImage Image { get; }

    public Manifest Root { get; }

    /// <summary>The store read from: a store destination takes chunked layers from it as chunks.</summary>
    public ImageStore Store => _store;

    public Platform? SelectedPlatform { get; }

    /// <summary>Whether the root is the stored manifest itself (not one platform taken from an index).</summary>
    public bool IsVerbatim => Root.Digest == Image.Manifest.Digest;

    /// <param name="platform">When the image is an index, take only this platform's manifest as the root (a save passes
    /// the host's by default); an image manifest is taken as it is.</param>
    public static async Task<StoreImageSource> OpenAsync(ImageStore store, ImageReference reference, Platform? platform,
        CancellationToken cancellationToken)
    {
        var image = await ImageResolver.ResolveAsync(store, reference, cancellationToken).ConfigureAwait(false);
        if (platform is null || !image.Manifest.IsIndex) return new StoreImageSource(store, image, image.Manifest, null);
        var (root, selected) = await ImageResolver.SelectPlatformAsync(store, image.Manifest, platform, cancellationToken).ConfigureAwait(false);
        return new StoreImageSource(store, image, root, selected);
    }

    public Task<Stream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken)
        => _store.OpenBlobContentAsync(descriptor, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
