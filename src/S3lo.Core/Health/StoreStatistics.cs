namespace S3lo.Core.Health;

/// <summary>
/// List prices per GB-month (US dollars, GB = 2^30 bytes as the providers bill it) used for the cost estimates. Defaults:
/// US East, first pricing tier, checked on 2026-12-02 (sources in the help of Measure-S3loStore).
/// </summary>
public sealed record StorePrices
{
    /// <summary>Amazon S3 Standard (and the frequent access tier of Intelligent-Tiering, where S3lo puts blobs and chunks).</summary>
    public decimal S3StandardPerGB { get; init; } = 0.023m;

    /// <summary>Azure Blob Storage, Hot tier, LRS: manifests, recipes, file indexes, signatures, s3lo.yaml.</summary>
    public decimal AzureHotPerGB { get; init; } = 0.018m;

    /// <summary>Azure Blob Storage, Cool tier, LRS: blobs and chunks.</summary>
    public decimal AzureCoolPerGB { get; init; } = 0.01m;

    /// <summary>Amazon ECR private repository storage: the registry shown beside the store, holding every tag's bytes.</summary>
    public decimal EcrPerGB { get; init; } = 0.10m;
}

/// <summary>How many objects of each kind a store holds.</summary>
public sealed record StoreObjectCounts(long Manifests, long Blobs, long Chunks, long Recipes, long FileIndexes, long LayerEntries, long Signatures, long Other)
{
    public long Total => Manifests + Blobs + Chunks + Recipes + FileIndexes + LayerEntries + Signatures + Other;

    public override string ToString()
        => $"{Manifests} manifests, {Blobs} blobs, {Chunks} chunks, {Recipes} recipes, {FileIndexes} file indexes, {LayerEntries} layer entries, {Signatures} signatures, {Other} other";
}

/// <summary>A store's figures.</summary>
/// <param name="LogicalBytes">What the tags reference, summed tag by tag: each tag's configs, layers (a chunked layer at its compressed size) and
/// index children, each counted once per tag. What a registry that does not share blobs between tags would hold.</param>
/// <param name="StoredBytes">The bytes under <c>blobs/</c> and <c>chunks/</c>, referenced or not.</param>
/// <param name="MetadataBytes">Everything else: manifests, recipes, file indexes, layer entries, signatures, s3lo.yaml.</param>
/// <param name="DedupRatio">LogicalBytes / StoredBytes (1 for an empty store).</param>
/// <param name="BytesSaved">LogicalBytes - StoredBytes.</param>
/// <param name="MonthlyCost">The store's storage per month at <see cref="PricedAs"/>.</param>
/// <param name="NoDedupRegistryMonthlyCost">LogicalBytes per month at the ECR price.</param>
public sealed record StoreStatistics(
    string Store,
    int Tags,
    int Images,
    long LogicalBytes,
    long StoredBytes,
    long MetadataBytes,
    double DedupRatio,
    long BytesSaved,
    StoreObjectCounts Objects,
    decimal MonthlyCost,
    string PricedAs,
    decimal NoDedupRegistryMonthlyCost);

/// <summary>One image's figures.</summary>
/// <param name="LogicalBytes">Its tags' bytes, summed tag by tag.</param>
/// <param name="ReferencedBytes">The distinct objects its tags reference.</param>
/// <param name="ExclusiveBytes">Of those, the ones no other image references: what removing the image would free.</param>
public sealed record ImageStatistics(string Store, string Name, int Tags, long LogicalBytes, long ReferencedBytes, long ExclusiveBytes);

/// <summary>A layer more than one tag uses, with those tags (<c>image:tag</c>).</summary>
public sealed record SharedLayer(string Store, string Digest, long Size, string MediaType, bool Chunked, int TagCount, IReadOnlyList<string> Tags);

/// <summary>Everything one measurement found.</summary>
public sealed record StoreMeasurement(StoreStatistics Store, IReadOnlyList<ImageStatistics> Images, IReadOnlyList<SharedLayer> SharedLayers);

/// <summary>How far a measurement is.</summary>
public sealed record StoreMeasureProgress(long ObjectsListed, int TagsRead);
