using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Gc;

/// <summary>
/// What the tags of a store reach, kept as digests. Tags are remembered by their listing's size, date
/// and ETag, so that marking again (right before each delete) reads only tags published since.
/// </summary>
internal sealed class MarkSet(ImageStore store, IProgress<GcProgress>? progress)
{
    private readonly HashSet<string> _blobs = new(StringComparer.Ordinal);
    private readonly HashSet<string> _chunks = new(StringComparer.Ordinal);
    private readonly HashSet<string> _layerEntries = new(StringComparer.Ordinal);
    private readonly HashSet<string> _childManifestsRead = new(StringComparer.Ordinal);
    private readonly ReferenceWalker _walker = new(store);
    private readonly Dictionary<string, (long Size, DateTimeOffset LastModified, string? ETag)> _tags = new(StringComparer.Ordinal);

    public int TagCount => _tags.Count;

    /// <summary>
    /// Which layers are chunked. Listed once, before the first mark: a recipe written later belongs to a
    /// push younger than the collection, whose chunks the grace period protects.
    /// </summary>
    public Task ListRecipesAsync(CancellationToken cancellationToken) => _walker.ListRecipesAsync(cancellationToken);

    /// <summary>Marks what every tag reaches whose manifest.json is new or changed since the last call.</summary>
    public async Task MarkNewTagsAsync(CancellationToken cancellationToken)
    {
        await foreach (var entry in store.ListTagsAsync("", cancellationToken).ConfigureAwait(false))
        {
            var version = (entry.ManifestObject.Size, entry.ManifestObject.LastModified, entry.ManifestObject.ETag);
            if (_tags.TryGetValue(entry.ManifestObject.Key, out var seen) && seen == version) continue;
            await MarkTagAsync(entry.Name, entry.Tag, cancellationToken).ConfigureAwait(false);
            _tags[entry.ManifestObject.Key] = version;
            progress?.Report(new GcProgress(GcPhase.Marking, _tags.Count, 0, 0, 0));
        }
    }

    /// <summary>
    /// The recipes left once the recipes have been swept are roots: each names its file index, its chunks and its
    /// <c>layers/</c> entry (docs/format.md, "Garbage collection"). An unmarked recipe survives the sweep only when it is younger
    /// than the cutoff or was refreshed before its delete, which is how a push reusing a chunked layer protects it: by
    /// refreshing the recipe alone. A recipe that exists from now on existed here, or was written later by a push that
    /// refreshed or stored each of its chunks itself. <paramref name="swept"/>: the recipes this collection removed (or, with
    /// WhatIf, would remove), which protect nothing.
    /// </summary>
    public async Task MarkKeptRecipesAsync(IReadOnlySet<string> swept, CancellationToken cancellationToken)
    {
        await foreach (var listed in store.Objects.ListAsync(StoreLayout.RecipesPrefix, cancellationToken).ConfigureAwait(false))
        {
            if (!GarbageCollector.IsContentKey(listed.Key, StoreLayout.RecipesPrefix) || IsMarked(listed.Key) || swept.Contains(listed.Key)) continue;
            var stored = await store.Objects.GetBytesAsync(listed.Key, Manifest.MaxBytes, cancellationToken).ConfigureAwait(false);
            if (stored is null) continue;
            var layer = Digest.FromHex(listed.Key[StoreLayout.RecipesPrefix.Length..]);
            ChunkRecipe recipe;
            try
            {
                recipe = ChunkRecipe.Parse(stored.Bytes, layer);
            }
            catch (S3loException)
            {
                // A recipe no reader can follow names nothing a layer could be read from.
                continue;
            }
            _blobs.Add(layer.Hex);
            _layerEntries.Add(recipe.Layer.Hex);
            foreach (var chunk in recipe.Chunks) _chunks.Add(chunk.Digest.Hex);
        }
    }

    public bool IsMarked(string key)
    {
        var slash = key.LastIndexOf('/');
        var hex = key[(slash + 1)..];
        if (key.StartsWith(StoreLayout.ChunksPrefix, StringComparison.Ordinal)) return _chunks.Contains(hex);
        return key.StartsWith(StoreLayout.LayersPrefix, StringComparison.Ordinal) ? _layerEntries.Contains(hex) : _blobs.Contains(hex);
    }

    private async Task MarkTagAsync(string name, string tag, CancellationToken cancellationToken)
    {
        var reference = $"{name}:{tag}";
        TagManifest? stored;
        try
        {
            stored = await store.TryGetTagAsync(name, tag, cancellationToken).ConfigureAwait(false);
        }
        catch (S3loException e) when (e.ErrorId is ErrorIds.InvalidManifest or ErrorIds.UnsupportedMediaType or ErrorIds.ObjectTooLarge)
        {
            throw Unreadable(reference, $"its manifest.json cannot be read: {e.Message}", e);
        }
        // Deleted since it was listed: it holds nothing any more.
        if (stored is null) return;
        await MarkManifestAsync(stored.Manifest, reference, cancellationToken).ConfigureAwait(false);
    }

    private Task MarkManifestAsync(Manifest manifest, string reference, CancellationToken cancellationToken)
    {
        _blobs.Add(manifest.Digest.Hex);
        return _walker.WalkAsync(manifest, Mark, (unreadable, why, e) => throw Unfollowable(reference, unreadable, why, e), cancellationToken);
    }

    /// <summary>Marks one reference; true when it is new, so that what it leads to is followed once.</summary>
    private bool Mark(ObjectReference reference) => reference.Kind switch
    {
        ReferenceKind.Chunk => _chunks.Add(reference.Digest.Hex),
        ReferenceKind.LayerEntry => _layerEntries.Add(reference.Digest.Hex),
        // Keyed by their layer, like the layer itself, which is marked already.
        ReferenceKind.Recipe or ReferenceKind.FileIndex => true,
        ReferenceKind.IndexChild => MarkChild(reference.Digest.Hex),
        _ => _blobs.Add(reference.Digest.Hex),
    };

    /// <summary>A child manifest may be marked already as another tag's root, yet is read once as a child.</summary>
    private bool MarkChild(string hex)
    {
        _blobs.Add(hex);
        return _childManifestsRead.Add(hex);
    }

    private S3loException Unfollowable(string reference, ObjectReference unreadable, string why, S3loException? inner)
        => unreadable.Kind == ReferenceKind.IndexChild && inner?.ErrorId == ErrorIds.BlobNotFound
            ? new S3loException(ErrorIds.BlobNotFound, S3loErrorKind.NotFound,
                $"Garbage collection stopped: the tag {reference} in {store.Location} refers to the manifest {unreadable.Digest}, which is missing.",
                reference, inner)
            : Unreadable(reference, why, inner);

    private S3loException Unreadable(string reference, string why, Exception? inner = null)
        => new(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
            $"Garbage collection stopped: the tag {reference} in {store.Location} cannot be followed, so what it references is unknown; {why}.",
            reference, inner);
}
