using S3lo.Core.Gc;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Health;

/// <summary>
/// Measures a store (s3lo's <c>stats</c>): one listing of every object for what is stored, and every tag walked with the
/// <see cref="ReferenceWalker"/> garbage collection marks with, for what the tags reference. Reads nothing but the
/// listing, the manifests and the recipes; changes nothing.
/// </summary>
public sealed class StoreMeasurer(ImageStore store)
{
    private const double BytesPerGB = 1L << 30;

    /// <summary>Measures the store; a tag that cannot be read (or followed whole) goes to <paramref name="tagError"/> and counts
    /// only with what could be read of it.</summary>
    public async Task<StoreMeasurement> MeasureAsync(StorePrices prices, IProgress<StoreMeasureProgress>? progress, Action<string, S3loException> tagError,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prices);
        await StoreExistence.RequireAsync(store.Objects, cancellationToken).ConfigureAwait(false);

        long manifests = 0, blobs = 0, chunks = 0, recipes = 0, indexes = 0, entries = 0, signatures = 0, other = 0, stored = 0, metadata = 0, listed = 0;
        await foreach (var o in store.Objects.ListAsync("", cancellationToken).ConfigureAwait(false))
        {
            if (++listed % 1000 == 0) progress?.Report(new StoreMeasureProgress(listed, 0));
            var key = o.Key;
            if (IsContent(key, StoreLayout.BlobsPrefix)) blobs++;
            else if (IsContent(key, StoreLayout.ChunksPrefix)) chunks++;
            else
            {
                metadata += o.Size;
                if (StoreLayout.TryParseManifestKey(key, out _, out _)) manifests++;
                else if (IsContent(key, StoreLayout.RecipesPrefix)) recipes++;
                else if (IsContent(key, StoreLayout.IndexesPrefix)) indexes++;
                else if (IsContent(key, StoreLayout.LayersPrefix)) entries++;
                else if (key.StartsWith(StoreLayout.ManifestsPrefix, StringComparison.Ordinal) && key.Contains("/signatures/", StringComparison.Ordinal)
                         && key.EndsWith(".json", StringComparison.Ordinal)) signatures++;
                else other++;
                continue;
            }
            stored += o.Size;
        }

        var walker = new ReferenceWalker(store);
        await walker.ListRecipesAsync(cancellationToken).ConfigureAwait(false);
        var sizes = new Dictionary<Digest, long>();
        var imagesOf = new Dictionary<Digest, HashSet<string>>();
        var layers = new Dictionary<Digest, (Descriptor Descriptor, List<string> Tags)>();
        var chunked = new HashSet<Digest>();
        var images = new SortedDictionary<string, (int Tags, long Logical, HashSet<Digest> Referenced)>(StringComparer.Ordinal);
        long logical = 0;
        var tags = 0;
        await foreach (var entry in store.ListTagsAsync("", cancellationToken).ConfigureAwait(false))
        {
            var reference = $"{entry.Name}:{entry.Tag}";
            TagManifest? tag;
            try
            {
                tag = await store.TryGetTagAsync(entry.Name, entry.Tag, cancellationToken).ConfigureAwait(false);
            }
            catch (S3loException e) when (e.ErrorId is ErrorIds.InvalidManifest or ErrorIds.UnsupportedMediaType or ErrorIds.ObjectTooLarge)
            {
                tagError(reference, e);
                continue;
            }
            if (tag is null) continue;
            tags++;
            var referenced = new HashSet<Digest>();
            long tagBytes = 0;
            await walker.WalkAsync(tag.Manifest, o =>
            {
                if (o.Kind == ReferenceKind.Recipe)
                {
                    chunked.Add(o.Digest);
                    return false;
                }
                if (o.Kind is not (ReferenceKind.IndexChild or ReferenceKind.Config or ReferenceKind.Layer) || !referenced.Add(o.Digest)) return false;
                tagBytes += o.Size;
                sizes.TryAdd(o.Digest, o.Size);
                if (!imagesOf.TryGetValue(o.Digest, out var users)) imagesOf[o.Digest] = users = new HashSet<string>(StringComparer.Ordinal);
                users.Add(entry.Name);
                if (o.Kind == ReferenceKind.Layer)
                {
                    if (!layers.TryGetValue(o.Digest, out var layer)) layers[o.Digest] = layer = (o.Descriptor!, []);
                    layer.Tags.Add(reference);
                }
                return true;
            }, (o, why, e) => tagError(reference, new S3loException(e?.ErrorId ?? ErrorIds.InvalidManifest, e?.Kind ?? S3loErrorKind.InvalidData,
                $"The tag {reference} in {store.Location} is measured without what {o.Key} references: {why}.", reference, e)), cancellationToken).ConfigureAwait(false);
            logical += tagBytes;
            var image = images.TryGetValue(entry.Name, out var known) ? known : (Tags: 0, Logical: 0L, Referenced: new HashSet<Digest>());
            image.Referenced.UnionWith(referenced);
            images[entry.Name] = (image.Tags + 1, image.Logical + tagBytes, image.Referenced);
            progress?.Report(new StoreMeasureProgress(listed, tags));
        }

        var storeName = store.Location.ToString();
        var (cost, pricedAs) = MonthlyCost(prices, stored, metadata);
        var statistics = new StoreStatistics(storeName, tags, images.Count, logical, stored, metadata,
            stored == 0 ? 1 : Math.Round(logical / (double)stored, 2), logical - stored,
            new StoreObjectCounts(manifests, blobs, chunks, recipes, indexes, entries, signatures, other),
            cost, pricedAs, PerMonth(logical, prices.EcrPerGB));
        var imageRows = images.Select(i => new ImageStatistics(storeName, i.Key, i.Value.Tags, i.Value.Logical, i.Value.Referenced.Sum(d => sizes[d]),
            i.Value.Referenced.Where(d => imagesOf[d].Count == 1).Sum(d => sizes[d]))).ToList();
        var shared = layers.Where(l => l.Value.Tags.Count > 1)
            .OrderByDescending(l => l.Value.Descriptor.Size * (l.Value.Tags.Count - 1)).ThenBy(l => l.Key.Hex, StringComparer.Ordinal)
            .Select(l => new SharedLayer(storeName, l.Key.ToString(), l.Value.Descriptor.Size, l.Value.Descriptor.MediaType, chunked.Contains(l.Key),
                l.Value.Tags.Count, l.Value.Tags.Order(StringComparer.Ordinal).ToList()))
            .ToList();
        return new StoreMeasurement(statistics, imageRows, shared);
    }

    /// <summary>Azure stores keep blobs and chunks in the Cool tier and the rest Hot (docs/format.md, "Storage classes"); S3 stores
    /// are priced at S3 Standard, which Intelligent-Tiering's frequent tier costs; a local store as if it were on S3.</summary>
    private (decimal Cost, string PricedAs) MonthlyCost(StorePrices prices, long stored, long metadata) => store.Location.Scheme switch
    {
        "az" => (PerMonth(stored, prices.AzureCoolPerGB) + PerMonth(metadata, prices.AzureHotPerGB), "Azure Blob Cool (blobs, chunks) and Hot (metadata), LRS"),
        "s3" => (PerMonth(stored + metadata, prices.S3StandardPerGB), "Amazon S3 Standard"),
        _ => (PerMonth(stored + metadata, prices.S3StandardPerGB), "Amazon S3 Standard (as if the local store were a bucket)"),
    };

    private static decimal PerMonth(long bytes, decimal pricePerGB) => Math.Round((decimal)(bytes / BytesPerGB) * pricePerGB, 6);

    private static bool IsContent(string key, string prefix) => key.StartsWith(prefix, StringComparison.Ordinal) && GarbageCollector.IsContentKey(key, prefix);
}
