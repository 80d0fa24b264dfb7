using S3lo.Core.Storage;

namespace S3lo.Core.Policy;

/// <summary>One section of a store's s3lo.yaml as Get-S3loPolicy shows it: <c>default</c> or one <c>images</c> key.</summary>
public sealed record PolicyEntry
{
    public required string Store { get; init; }
    /// <summary><c>default</c>, or the image name or pattern of an <c>images</c> entry.</summary>
    public required string Scope { get; init; }
    /// <summary>Whether this is the store-wide <c>default</c> section, not an <c>images</c> entry (which may be named <c>default</c> too).</summary>
    public bool IsDefault { get; init; }
    public bool? Immutable { get; init; }
    public int? KeepLast { get; init; }
    public TimeSpan? MaxAge { get; init; }
    /// <summary>max_age as written in the file (<c>90d</c>).</summary>
    public string? MaxAgeText { get; init; }
    public IReadOnlyList<string>? KeepTags { get; init; }
    /// <summary>Bucket-wide; only on the <c>default</c> entry.</summary>
    public bool? Chunked { get; init; }
    public int? ChunkFormat { get; init; }

    public const string DefaultScope = "default";

    /// <summary>The entries of a document, <c>default</c> first (when it says anything), then <c>images</c> in file order.</summary>
    public static IEnumerable<PolicyEntry> From(PolicyDocument document, StoreLocation store)
    {
        var d = document.Default;
        if (d != ImagePolicy.Empty || document.Chunked is not null || document.ChunkFormat is not null)
            yield return From(store, DefaultScope, d) with { IsDefault = true, Chunked = document.Chunked, ChunkFormat = document.ChunkFormat };
        foreach (var (pattern, policy) in document.Images) yield return From(store, pattern, policy);
    }

    private static PolicyEntry From(StoreLocation store, string scope, ImagePolicy policy) => new()
    {
        Store = store.ToString(),
        Scope = scope,
        Immutable = policy.Immutable,
        KeepLast = policy.KeepLast,
        MaxAge = policy.MaxAge,
        MaxAgeText = policy.MaxAgeText,
        KeepTags = policy.KeepTags,
    };
}

/// <summary>The policy that applies to one image, each value with where it comes from.</summary>
public sealed record EffectivePolicyInfo
{
    public required string Store { get; init; }
    public required string Name { get; init; }
    public required bool Immutable { get; init; }
    public required PolicySource ImmutableSource { get; init; }
    public int? KeepLast { get; init; }
    public required PolicySource KeepLastSource { get; init; }
    public TimeSpan? MaxAge { get; init; }
    public required PolicySource MaxAgeSource { get; init; }
    public IReadOnlyList<string>? KeepTags { get; init; }
    public required PolicySource KeepTagsSource { get; init; }
    /// <summary>The <c>images</c> key that applies to the image, if any.</summary>
    public string? Pattern { get; init; }
    /// <summary>Whether a prune may remove tags of this image (keep_last or max_age set, image not immutable).</summary>
    public required bool Pruned { get; init; }

    public static EffectivePolicyInfo From(EffectivePolicy policy, StoreLocation store) => new()
    {
        Store = store.ToString(),
        Name = policy.ImageName,
        Immutable = policy.Immutable.Value,
        ImmutableSource = policy.Immutable.Source,
        KeepLast = policy.KeepLast.Value,
        KeepLastSource = policy.KeepLast.Source,
        MaxAge = policy.MaxAge.Value,
        MaxAgeSource = policy.MaxAge.Source,
        KeepTags = policy.KeepTags.Value,
        KeepTagsSource = policy.KeepTags.Source,
        Pattern = new[] { policy.Immutable.Pattern, policy.KeepLast.Pattern, policy.MaxAge.Pattern, policy.KeepTags.Pattern }.FirstOrDefault(p => p is not null),
        Pruned = policy.HasLifecycle && !policy.Immutable.Value,
    };
}
