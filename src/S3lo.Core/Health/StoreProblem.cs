namespace S3lo.Core.Health;

public enum ProblemSeverity
{
    /// <summary>Worth knowing, nothing is wrong (an unreferenced object still inside the grace period).</summary>
    Information,

    /// <summary>Nothing a tag needs is lost, but the store is not as it should be (an orphaned object, a stale signature).</summary>
    Warning,

    /// <summary>A tag cannot be read whole, or the store cannot be read as S3lo and s3lo expect.</summary>
    Error,
}

/// <summary>What a store check found.</summary>
public enum ProblemKind
{
    /// <summary>A tag's manifest.json, or an index child, does not parse.</summary>
    InvalidManifest,

    /// <summary>A config or layer is in neither <c>blobs/</c> nor (for a layer) <c>recipes/</c>.</summary>
    MissingBlob,

    /// <summary>A child manifest of an index is missing from <c>blobs/</c>.</summary>
    MissingIndexChild,

    /// <summary>A layer is missing, and what is left of it (its file index) says it was stored chunked.</summary>
    MissingRecipe,

    /// <summary>A chunked layer has no file index: it reads whole, but its files cannot be listed.</summary>
    MissingFileIndex,

    /// <summary>A chunk a recipe names is missing.</summary>
    MissingChunk,

    /// <summary>A recipe does not parse, or does not describe its layer.</summary>
    InvalidRecipe,

    /// <summary>A stored object's size is not the size its descriptor gives.</summary>
    SizeMismatch,

    /// <summary>A stored object's bytes do not hash to its digest (with -Deep for configs, layers and chunks).</summary>
    DigestMismatch,

    /// <summary><c>s3lo.yaml</c> cannot be read.</summary>
    InvalidPolicy,

    /// <summary><c>s3lo.yaml</c> declares a chunk_format this version does not read.</summary>
    ChunkFormatMismatch,

    /// <summary>An object under <c>blobs/</c>, <c>recipes/</c>, <c>indexes/</c>, <c>chunks/</c> or <c>layers/</c> that no tag references.</summary>
    Orphaned,

    /// <summary>A signature record whose digest is not the tag's manifest digest any more.</summary>
    SignatureMismatch,

    /// <summary>A signature record that does not parse.</summary>
    InvalidSignature,
}

/// <summary>One problem of a store.</summary>
/// <param name="Reference">The tag it concerns (<c>image:tag</c>), empty for the store as a whole (s3lo.yaml, orphans).</param>
/// <param name="Key">The object at fault.</param>
public sealed record StoreProblem(ProblemSeverity Severity, ProblemKind Kind, string Reference, string Key, string Message);

public enum StoreCheckPhase
{
    Listing,
    CheckingTags,
    Verifying,
}

/// <summary>How far a store check is.</summary>
public sealed record StoreCheckProgress(StoreCheckPhase Phase, int TagsChecked, long ObjectsVerified, long ObjectsToVerify, long BytesVerified, int Problems);
