using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Gc;

/// <summary>What a tag refers to, by role: an index's child manifest, an image's config or layer, and for a layer stored
/// chunked its recipe, file index, chunks and S3lo's <c>layers/</c> entry.</summary>
public enum ReferenceKind
{
    IndexChild,
    Config,
    Layer,
    Recipe,
    FileIndex,
    Chunk,
    LayerEntry,
}

/// <summary>One object a tag refers to.</summary>
/// <param name="Key">Where it is stored; for a layer, its blob key (a chunked layer may have only its recipe and chunks).</param>
/// <param name="Size">The size the reference gives (a descriptor's size, a chunk's stored frame), -1 when it gives none.</param>
/// <param name="Layer">For a recipe, file index, chunk or layer entry: the (compressed) digest of the layer it belongs to.</param>
public sealed record ObjectReference(ReferenceKind Kind, string Key, Digest Digest, long Size, Digest? Layer = null)
{
    /// <summary>The descriptor of an index child, config or layer; null for the objects of a chunked layer.</summary>
    public Descriptor? Descriptor { get; init; }

    /// <summary>For a layer stored chunked: its recipe; null otherwise.</summary>
    public ChunkRecipe? Recipe { get; init; }
}

/// <summary>
/// Follows a tag's manifest to everything it refers to (docs/format.md, "Garbage collection", Mark): the index children
/// (read from <c>blobs/</c>, checked against their digests), each image manifest's config and layers, and for a layer
/// that has a recipe, the recipe, its file index, its chunks and its <c>layers/</c> entry. The caller decides at each
/// reference whether to follow it further, and what a reference that cannot be followed means: garbage collection
/// stops, the store check reports it and goes on. One walker is shared by the collection, the store check and the
/// statistics, so all three agree on what a tag holds.
/// </summary>
public sealed class ReferenceWalker(ImageStore store)
{
    private readonly HashSet<string> _layersWithRecipe = new(StringComparer.Ordinal);

    public ImageStore Store => store;

    /// <summary>
    /// Lists which layers are chunked (have a recipe); a layer whose recipe is not listed is followed as a whole blob.
    /// Call once before walking: a recipe written later belongs to a push younger than the walk.
    /// </summary>
    public async Task ListRecipesAsync(CancellationToken cancellationToken)
    {
        await foreach (var recipe in store.Objects.ListAsync(StoreLayout.RecipesPrefix, cancellationToken).ConfigureAwait(false))
            _layersWithRecipe.Add(recipe.Key[StoreLayout.RecipesPrefix.Length..]);
    }

    /// <summary>
    /// Walks <paramref name="root"/>. <paramref name="visit"/> sees each reference once per place it appears and returns
    /// whether to follow it (read an index child or a recipe, and walk what they refer to). <paramref name="unfollowable"/>
    /// hears of a reference whose object cannot be read (a missing or damaged child manifest, a damaged recipe, an index
    /// nested too deep), with why; the walk goes on past it unless the callback throws.
    /// </summary>
    public Task WalkAsync(Manifest root, Func<ObjectReference, bool> visit, Action<ObjectReference, string, S3loException?> unfollowable,
        CancellationToken cancellationToken)
        => WalkManifestAsync(root, 0, visit, unfollowable, cancellationToken);

    private async Task WalkManifestAsync(Manifest manifest, int depth, Func<ObjectReference, bool> visit,
        Action<ObjectReference, string, S3loException?> unfollowable, CancellationToken cancellationToken)
    {
        if (!manifest.IsIndex)
        {
            var first = true;
            foreach (var blob in manifest.References)
            {
                var reference = new ObjectReference(first ? ReferenceKind.Config : ReferenceKind.Layer, StoreLayout.BlobKey(blob.Digest), blob.Digest,
                    blob.Size) { Descriptor = blob };
                first = false;
                if (!visit(reference) || reference.Kind != ReferenceKind.Layer || !_layersWithRecipe.Contains(blob.Digest.Hex)) continue;
                await WalkRecipeAsync(reference, visit, unfollowable, cancellationToken).ConfigureAwait(false);
            }
            return;
        }
        foreach (var child in manifest.Manifests)
        {
            var reference = new ObjectReference(ReferenceKind.IndexChild, StoreLayout.BlobKey(child.Digest), child.Digest, child.Size) { Descriptor = child };
            if (!visit(reference)) continue;
            // The nesting the pushers accept; deeper is not an image S3lo or s3lo wrote.
            if (depth > Manifest.MaxIndexDepth)
            {
                unfollowable(reference, $"its index nests deeper than {Manifest.MaxIndexDepth} levels at {child.Digest}", null);
                continue;
            }
            Manifest childManifest;
            try
            {
                childManifest = await store.GetManifestBlobAsync(child, cancellationToken).ConfigureAwait(false);
            }
            catch (S3loException e) when (e.ErrorId is ErrorIds.BlobNotFound)
            {
                unfollowable(reference, $"its child manifest {child.Digest} is missing", e);
                continue;
            }
            catch (S3loException e) when (e.ErrorId is ErrorIds.InvalidManifest or ErrorIds.UnsupportedMediaType or ErrorIds.DigestMismatch
                                              or ErrorIds.ObjectTooLarge)
            {
                unfollowable(reference, $"its child manifest {child.Digest} cannot be read: {e.Message}", e);
                continue;
            }
            await WalkManifestAsync(childManifest, depth + 1, visit, unfollowable, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WalkRecipeAsync(ObjectReference layer, Func<ObjectReference, bool> visit, Action<ObjectReference, string, S3loException?> unfollowable,
        CancellationToken cancellationToken)
    {
        var recipeReference = new ObjectReference(ReferenceKind.Recipe, StoreLayout.RecipeKey(layer.Digest), layer.Digest, -1, layer.Digest);
        var stored = await store.Objects.GetBytesAsync(recipeReference.Key, Manifest.MaxBytes, cancellationToken).ConfigureAwait(false);
        // Deleted since it was listed: the layer is stored whole again, or its tag is gone.
        if (stored is null) return;
        ChunkRecipe recipe;
        try
        {
            recipe = ChunkRecipe.Parse(stored.Bytes, layer.Digest);
        }
        catch (S3loException e)
        {
            visit(recipeReference);
            unfollowable(recipeReference, $"the recipe of its chunked layer {layer.Digest} cannot be read: {e.Message}", e);
            return;
        }
        if (!visit(recipeReference with { Recipe = recipe })) return;
        visit(new ObjectReference(ReferenceKind.FileIndex, StoreLayout.IndexKey(layer.Digest), layer.Digest, -1, layer.Digest));
        visit(new ObjectReference(ReferenceKind.LayerEntry, StoreLayout.LayerKey(recipe.Layer), recipe.Layer, -1, layer.Digest));
        foreach (var chunk in recipe.Chunks)
            visit(new ObjectReference(ReferenceKind.Chunk, StoreLayout.ChunkKey(chunk.Digest), chunk.Digest, chunk.CompressedSize, layer.Digest));
    }
}
