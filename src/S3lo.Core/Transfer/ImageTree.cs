using S3lo.Core.Formats;
using S3lo.Core.Oci;

namespace S3lo.Core.Transfer;

/// <summary>An index's child manifest: the entry naming it and the manifest read (and verified) from the source.</summary>
internal sealed record ChildManifest(Descriptor Entry, Manifest Manifest);

/// <summary>
/// What a source's root manifest reaches: the configs and layers of every image manifest in the tree, and the
/// child manifests of its indexes, each list unique and in the order found (a child before its own children).
/// </summary>
internal sealed record ImageTree(IReadOnlyList<Descriptor> Blobs, IReadOnlyList<ChildManifest> Children)
{
    /// <summary>Walks the tree under <paramref name="source"/>'s root; child manifests are read here, since their own
    /// references must be known.</summary>
    public static async Task<ImageTree> WalkAsync(IImageSource source, CancellationToken cancellationToken)
    {
        var blobs = new List<Descriptor>();
        var seenBlobs = new HashSet<Digest>();
        var children = new List<ChildManifest>();
        var seenChildren = new HashSet<Digest>();
        async Task WalkAsync(Manifest manifest, int depth)
        {
            if (!manifest.IsIndex)
            {
                foreach (var blob in manifest.References)
                {
                    if (seenBlobs.Add(blob.Digest)) blobs.Add(blob);
                }
                return;
            }
            foreach (var entry in manifest.Manifests)
            {
                if (!seenChildren.Add(entry.Digest)) continue;
                if (depth > Manifest.MaxIndexDepth || entry.Size > Manifest.MaxBytes)
                    throw new S3loException(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
                        $"The index entry {entry.Digest} in {source.Description} is nested too deeply or too large to be a manifest.", entry.Digest.ToString());
                var child = await ManifestBlob.ReadAsync(source, entry, cancellationToken).ConfigureAwait(false);
                children.Add(new ChildManifest(entry, child));
                await WalkAsync(child, depth + 1).ConfigureAwait(false);
            }
        }
        await WalkAsync(source.Root, 0).ConfigureAwait(false);
        return new ImageTree(blobs, children);
    }
}
