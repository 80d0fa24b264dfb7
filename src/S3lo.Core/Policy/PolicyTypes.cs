namespace S3lo.Core.Policy;

/// <summary>
/// What one section of s3lo.yaml says about images: the <c>default</c> section or one <c>images</c> entry.
/// Null means the key is not set there.
/// </summary>
/// <param name="MaxAgeText">max_age as written in the file (<c>90d</c>, <c>168h</c>), for display.</param>
public sealed record ImagePolicy(bool? Immutable, int? KeepLast, TimeSpan? MaxAge, string? MaxAgeText, IReadOnlyList<string>? KeepTags)
{
    public static ImagePolicy Empty { get; } = new(null, null, null, null, null);
}

/// <summary>A section of s3lo.yaml that edits go to: the store (<c>default</c> and the bucket-wide keys) or one <c>images</c> key.</summary>
public sealed record PolicyScope
{
    private PolicyScope(string? pattern) => Pattern = pattern;

    public static PolicyScope Store { get; } = new((string?)null);

    /// <summary>An <c>images</c> key: an image name or a glob pattern; anything else is <c>InvalidPolicy</c>.</summary>
    public static PolicyScope Image(string pattern)
    {
        if (!ImagePattern.IsValid(pattern))
            throw new S3loException(ErrorIds.InvalidPolicy, S3loErrorKind.InvalidArgument,
                $"'{pattern}' is not a valid image name or pattern: use '/'-separated components of lowercase letters, digits, " +
                "'.', '_', '-' and the wildcards '*' and '?' (which do not match '/'), for example dev/*.", pattern);
        return new PolicyScope(pattern);
    }

    /// <summary>The <c>images</c> key, or null for the store scope.</summary>
    public string? Pattern { get; }

    public override string ToString() => Pattern is null ? "default" : $"images[{Pattern}]";
}

public enum PolicyKey
{
    Immutable,
    KeepLast,
    MaxAge,
    KeepTags,
    /// <summary>Bucket-wide, so only in <see cref="PolicyScope.Store"/>.</summary>
    Chunked,
}

/// <summary>Where an effective policy value comes from.</summary>
public enum PolicySource
{
    /// <summary>Nothing sets it: the built-in behaviour.</summary>
    Default,
    /// <summary>The <c>default</c> section.</summary>
    Store,
    /// <summary>The <c>images</c> entry named exactly like the image.</summary>
    Image,
    /// <summary>The best-matching glob entry of <c>images</c>.</summary>
    Pattern,
}

/// <param name="Pattern">The <c>images</c> key the value comes from, when it comes from one.</param>
public sealed record PolicyValue<T>(T? Value, PolicySource Source, string? Pattern);

/// <summary>The policy that applies to one image, each value with where it was set.</summary>
/// <param name="MaxAgeText">max_age as written where it was set; null when set programmatically.</param>
public sealed record EffectivePolicy(
    string ImageName,
    PolicyValue<bool> Immutable,
    PolicyValue<int?> KeepLast,
    PolicyValue<TimeSpan?> MaxAge,
    PolicyValue<IReadOnlyList<string>> KeepTags,
    string? MaxAgeText = null)
{
    /// <summary>True when a prune may remove tags: keep_last or max_age is set (keep_tags alone removes nothing).</summary>
    public bool HasLifecycle => KeepLast.Value is not null || MaxAge.Value is not null;
}
