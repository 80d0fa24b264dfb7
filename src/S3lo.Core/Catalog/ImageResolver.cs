using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Catalog;

/// <summary>A reference resolved to a manifest in a store.</summary>
/// <param name="Tag">The tag read, when the reference named one (or a digest that a tag points at).</param>
public sealed record ResolvedImage(ImageReference Reference, Manifest Manifest, TagManifest? Tag);

public static class ImageResolver
{
    /// <summary>
    /// Finds the manifest a reference names: a tag's <c>manifest.json</c>; for <c>name@sha256:…</c> the
    /// manifest blob of that digest (an index child) or else the tag of that image whose manifest has it.
    /// </summary>
    public static async Task<ResolvedImage> ResolveAsync(ImageStore store, ImageReference reference, CancellationToken cancellationToken)
    {
        reference.RequireName("find an image");
        if (reference.Tag is not null)
        {
            var tag = await store.GetTagAsync(reference.Name!, reference.Tag, cancellationToken).ConfigureAwait(false);
            if (reference.Digest is { } wanted && tag.Manifest.Digest != wanted)
                throw ImageStore.ImageNotFound(reference.ToString());
            return new ResolvedImage(reference, tag.Manifest, tag);
        }
        if (reference.Digest is not { } digest)
            throw new S3loException(ErrorIds.TagRequired, S3loErrorKind.InvalidArgument,
                $"'{reference}' needs a tag or a digest, for example {reference}:v1.", reference.ToString());

        await foreach (var entry in store.ListTagsAsync(reference.Name + "/", cancellationToken).ConfigureAwait(false))
        {
            if (entry.Name != reference.Name) continue;
            var tag = await store.TryGetTagAsync(entry.Name, entry.Tag, cancellationToken).ConfigureAwait(false);
            if (tag is not null && tag.Manifest.Digest == digest) return new ResolvedImage(reference, tag.Manifest, tag);
        }
        var blob = await store.Objects.HeadAsync(StoreLayout.BlobKey(digest), cancellationToken).ConfigureAwait(false);
        if (blob is not null && blob.Size <= Manifest.MaxBytes)
        {
            try
            {
                var manifest = await store.GetManifestBlobAsync(new Descriptor("", digest, blob.Size), cancellationToken).ConfigureAwait(false);
                return new ResolvedImage(reference, manifest, null);
            }
            catch (S3loException e) when (e.ErrorId is ErrorIds.InvalidManifest or ErrorIds.UnsupportedMediaType)
            {
                // A layer or config with that digest: not something a reference can name.
            }
        }
        throw ImageStore.ImageNotFound(reference.ToString());
    }

    /// <summary>The single-platform manifest to use: the manifest itself (with no platform chosen), or the
    /// index entry for <paramref name="platform"/> (the host's when null).</summary>
    public static async Task<(Manifest Manifest, Platform? Platform)> SelectPlatformAsync(ImageStore store, Manifest manifest, Platform? platform,
        CancellationToken cancellationToken)
    {
        if (!manifest.IsIndex) return (manifest, null);
        var entry = manifest.SelectPlatform(platform ?? Platform.Host);
        var child = await store.GetManifestBlobAsync(entry, cancellationToken).ConfigureAwait(false);
        if (child.IsIndex)
            throw new S3loException(ErrorIds.UnsupportedMediaType, S3loErrorKind.InvalidData,
                $"The index entry {entry.Digest} for {entry.Platform} is itself an index; nested indexes are not supported.", entry.Digest.ToString());
        return (child, entry.Platform);
    }
}
