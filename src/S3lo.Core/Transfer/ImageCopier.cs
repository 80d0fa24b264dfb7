using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Transfer;

/// <summary>
/// Copies an image between stores (or to another tag of the same store): <see cref="ImageTransfer"/> from the source
/// store to the destination tag, so only blobs the destination lacks move, each verified; blobs already in the
/// destination (always, within one store) are not transferred at all. Layers keep their form unless asked otherwise:
/// chunked ones move as their chunks, recipe and file index, each chunk checked (<see cref="LayerChunking.Keep"/>). Signature records follow when the manifest bytes
/// are unchanged; they sign the manifest digest, so with one platform taken from an index they are dropped.
/// </summary>
public sealed class ImageCopier(ImageStore source, ImageStore destination)
{
    public async Task<(TransferResult Result, int SignaturesCopied, bool SignaturesDropped)> CopyAsync(ImageReference from, ImageReference to,
        Platform? platform, bool force, IProgress<TransferProgress>? progress, CancellationToken cancellationToken,
        LayerChunking chunking = LayerChunking.Keep)
    {
        to.RequireTag("copy an image to");
        await using var image = await StoreImageSource.OpenAsync(source, from, platform, cancellationToken).ConfigureAwait(false);
        await using var target = new StoreDestination(destination, to, force, chunking);
        var result = await ImageTransfer.CopyAsync(image, target, null, progress, cancellationToken).ConfigureAwait(false);
        if (image.Image.Tag is not { } tag) return (result, 0, false);

        var prefix = StoreLayout.SignaturesPrefix(tag.Name, tag.Tag);
        var signatures = await ListSignaturesAsync(source, tag, cancellationToken).ConfigureAwait(false);
        if (signatures.Count == 0) return (result, 0, false);
        if (!image.IsVerbatim) return (result, 0, true);
        foreach (var signature in signatures)
        {
            var bytes = await source.Objects.GetBytesAsync(signature.Key, Manifest.MaxBytes, cancellationToken).ConfigureAwait(false);
            if (bytes is null) continue;
            var name = signature.Key[prefix.Length..];
            await destination.Objects.PutBytesAsync(StoreLayout.SignaturesPrefix(to.Name!, to.Tag!) + name, bytes.Bytes, ObjectClass.Metadata,
                cancellationToken).ConfigureAwait(false);
        }
        return (result, signatures.Count, false);
    }

    /// <summary>Whether the tag an image was read from carries signature records (which a registry cannot keep).</summary>
    public static async Task<bool> HasSignaturesAsync(ImageStore store, StoreImageSource image, CancellationToken cancellationToken)
        => image.Image.Tag is { } tag && (await ListSignaturesAsync(store, tag, cancellationToken).ConfigureAwait(false)).Count > 0;

    private static async Task<List<ObjectInfo>> ListSignaturesAsync(ImageStore store, TagManifest tag, CancellationToken cancellationToken)
        => (await store.ListSignaturesAsync(tag.Name, tag.Tag, cancellationToken).ConfigureAwait(false))
            .Where(o => o.Key.EndsWith(".json", StringComparison.Ordinal)).ToList();
}
