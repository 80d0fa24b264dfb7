namespace S3lo.Core.Gc;

/// <summary>How a garbage collection runs.</summary>
public sealed record GcOptions
{
    /// <summary>
    /// Unreferenced objects younger than this (by the store's clock) are kept: they may belong to a push
    /// that has uploaded its blobs but not yet published its manifest.
    /// </summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Reports what would be removed and removes nothing.</summary>
    public bool WhatIf { get; init; }

    /// <summary>How many objects are re-checked and deleted together (S3 deletes at most 1000 per request).</summary>
    public int DeleteBatchSize { get; init; } = 1000;
}

/// <summary>One object the collection removed (or, with WhatIf, would remove).</summary>
/// <param name="Key">The object's key: under <c>blobs/</c>, or <c>recipes/</c>, <c>indexes/</c>, <c>chunks/</c> for chunked layers;
/// for an unfinished write, the key it was for (a local temporary file: its own path under the store).</param>
/// <param name="Digest">The digest in the key (a recipe or file index is keyed by its layer's digest); empty when the key has none.</param>
/// <param name="Kind">An unreferenced object, or the remains of a write that never finished.</param>
public sealed record SweptBlob(string Key, string Digest, long Size, DateTimeOffset LastModified, bool Removed, SweptKind Kind = SweptKind.Object);

public enum SweptKind
{
    /// <summary>A stored object no tag references.</summary>
    Object,

    /// <summary>A temporary file, an S3 multipart upload or an Azure blob with only uncommitted blocks, left by a push that never finished.</summary>
    IncompleteWrite,
}

public enum GcPhase
{
    Marking,
    Sweeping,
}

/// <summary>How far a collection is: tags read while marking, objects listed and removed while sweeping.</summary>
/// <param name="SkippedRecent">Unreferenced objects kept because they are younger than the grace period.</param>
public sealed record GcProgress(GcPhase Phase, int TagsMarked, long ObjectsScanned, long ObjectsSwept, long BytesSwept, long SkippedRecent = 0);
