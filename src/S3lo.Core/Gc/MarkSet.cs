using System.Text.Json;
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
    private readonly HashSet<string> _layersWithRecipe = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Size, DateTimeOffset LastModified, string? ETag)> _tags = new(StringComparer.Ordinal);

    public int TagCount => _tags.Count;

    /// <summary>
    /// Which layers are chunked. Listed once, before the first mark: a recipe written later belongs to a
    /// push younger than the collection, whose chunks the grace period protects.
    /// </summary>
    public async Task ListRecipesAsync(CancellationToken cancellationToken)
    {
        await foreach (var recipe in store.Objects.ListAsync(StoreLayout.RecipesPrefix, cancellationToken).ConfigureAwait(false))
            _layersWithRecipe.Add(recipe.Key[StoreLayout.RecipesPrefix.Length..]);
    }

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
        await MarkManifestAsync(stored.Manifest, reference, 0, cancellationToken).ConfigureAwait(false);
    }

    private async Task MarkManifestAsync(Manifest manifest, string reference, int depth, CancellationToken cancellationToken)
    {
        _blobs.Add(manifest.Digest.Hex);
        if (!manifest.IsIndex)
        {
            foreach (var blob in manifest.References)
            {
                if (_blobs.Add(blob.Digest.Hex) && _layersWithRecipe.Contains(blob.Digest.Hex))
                    await MarkChunksAsync(blob.Digest, reference, cancellationToken).ConfigureAwait(false);
            }
            return;
        }
        foreach (var child in manifest.Manifests)
        {
            _blobs.Add(child.Digest.Hex);
            if (!_childManifestsRead.Add(child.Digest.Hex)) continue;
            // The nesting the pushers accept; deeper is not an image S3lo or s3lo wrote.
            if (depth > Manifest.MaxIndexDepth) throw Unreadable(reference, $"its index nests deeper than {Manifest.MaxIndexDepth} levels at {child.Digest}");
            Manifest childManifest;
            try
            {
                childManifest = await store.GetManifestBlobAsync(child, cancellationToken).ConfigureAwait(false);
            }
            catch (S3loException e) when (e.ErrorId == ErrorIds.BlobNotFound)
            {
                throw new S3loException(ErrorIds.BlobNotFound, S3loErrorKind.NotFound,
                    $"Garbage collection stopped: the tag {reference} in {store.Location} refers to the manifest {child.Digest}, which is missing.",
                    reference, e);
            }
            catch (S3loException e) when (e.ErrorId is ErrorIds.InvalidManifest or ErrorIds.UnsupportedMediaType or ErrorIds.DigestMismatch
                                              or ErrorIds.ObjectTooLarge)
            {
                throw Unreadable(reference, $"its child manifest {child.Digest} cannot be read: {e.Message}", e);
            }
            await MarkManifestAsync(childManifest, reference, depth + 1, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task MarkChunksAsync(Digest layer, string reference, CancellationToken cancellationToken)
    {
        var recipe = await store.Objects.GetBytesAsync(StoreLayout.RecipeKey(layer), Manifest.MaxBytes, cancellationToken).ConfigureAwait(false);
        // Deleted since it was listed: the layer is stored whole again, or its tag is gone.
        if (recipe is null) return;
        try
        {
            using var document = JsonDocument.Parse(recipe.Bytes);
            // S3lo's layers/ entry for the layer's diff_id lives as long as the recipe it points to.
            _layerEntries.Add(Digest.FromHex(document.RootElement.GetProperty("layer").GetString() ?? "").Hex);
            foreach (var chunk in document.RootElement.GetProperty("chunks").EnumerateArray())
                _chunks.Add(Digest.FromHex(chunk.GetProperty("digest").GetString() ?? "").Hex);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or S3loException)
        {
            throw Unreadable(reference, $"the recipe of its chunked layer {layer} cannot be read: {e.Message}", e);
        }
    }

    private S3loException Unreadable(string reference, string why, Exception? inner = null)
        => new(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
            $"Garbage collection stopped: the tag {reference} in {store.Location} cannot be followed, so what it references is unknown; {why}.",
            reference, inner);
}
