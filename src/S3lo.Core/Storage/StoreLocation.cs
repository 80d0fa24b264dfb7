using S3lo.Core.Storage.Azure;

namespace S3lo.Core.Storage;

public enum StoreKind
{
    Local,
    S3,
    Azure,
}

/// <summary>How to reach S3: all optional; what is not given comes from the standard AWS chain.</summary>
public sealed record S3ConnectionOptions
{
    public string? ProfileName { get; init; }
    public string? Region { get; init; }
    /// <summary>An S3-compatible endpoint; implies path-style addressing and checksums only when required.</summary>
    public string? EndpointUrl { get; init; }
    public string? AccessKey { get; init; }
    // Internal so that the secret never shows in a listed object's properties, its ToString or ConvertTo-Json.
    internal string? SecretKey { get; init; }
    internal string? SessionToken { get; init; }
    /// <summary>Storage class for blobs; null means INTELLIGENT_TIERING on AWS and none on a custom endpoint.</summary>
    public string? BlobStorageClass { get; init; }
    /// <summary>Storage class for manifests and metadata; null means STANDARD on AWS and none on a custom endpoint.</summary>
    public string? ManifestStorageClass { get; init; }

    public bool IsCustomEndpoint => !string.IsNullOrEmpty(EndpointUrl);
}

/// <summary>
/// One store: a bucket, or a directory given as an absolute path. Connection options travel with it,
/// so an object listed from a store can be handed to another cmdlet and reach the same store.
/// </summary>
public sealed record StoreLocation
{
    private StoreLocation(StoreKind kind, string root, S3ConnectionOptions? connection)
    {
        Kind = kind;
        Root = root;
        Connection = connection;
    }

    public StoreKind Kind { get; }

    /// <summary>The bucket name, or the absolute directory path of a local store.</summary>
    public string Root { get; }

    public S3ConnectionOptions? Connection { get; init; }

    public AzureConnectionOptions? AzureConnection { get; init; }

    public static StoreLocation S3(string bucket, S3ConnectionOptions? connection = null)
    {
        ValidateBucket(bucket);
        return new StoreLocation(StoreKind.S3, bucket, connection ?? new S3ConnectionOptions());
    }

    public static StoreLocation Azure(string container, AzureConnectionOptions? options)
    {
        ValidateContainer(container);
        return new StoreLocation(StoreKind.Azure, container, null) { AzureConnection = options ?? new AzureConnectionOptions() };
    }

    public static StoreLocation Local(string absolutePath)
    {
        if (!Path.IsPathFullyQualified(absolutePath))
            throw new ArgumentException("A local store needs an absolute path.", nameof(absolutePath));
        var full = Path.GetFullPath(absolutePath);
        var trimmed = Path.TrimEndingDirectorySeparator(full);
        return new StoreLocation(StoreKind.Local, trimmed.Length == 0 ? full : trimmed, null);
    }

    /// <summary>The store as a reference prefix: <c>s3://bucket/</c>, <c>az://container/</c>, <c>local:///abs/path/</c> or <c>local://C:/path/</c>.</summary>
    public override string ToString() => Kind switch
    {
        StoreKind.S3 => $"s3://{Root}/",
        StoreKind.Azure => $"az://{Root}/",
        _ => "local://" + Root.Replace('\\', '/').TrimEnd('/') + "/",
    };

    /// <summary>
    /// A local directory counts as an existing store once it holds <c>blobs/sha256</c> (every pushed tag puts
    /// its config there) or <c>s3lo.yaml</c>; a bare <c>manifests</c> folder is too common in projects to count.
    /// </summary>
    public static bool IsLocalStoreDirectory(string path)
        => Directory.Exists(Path.Combine(path, "blobs", "sha256")) || File.Exists(Path.Combine(path, "s3lo.yaml"));

    private static void ValidateBucket(string bucket)
    {
        var ok = bucket.Length is >= 3 and <= 63
                 && bucket.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-')
                 && char.IsAsciiLetterOrDigit(bucket[0]) && char.IsAsciiLetterOrDigit(bucket[^1]);
        if (!ok)
            throw new S3loException(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
                $"'{bucket}' is not a valid bucket name: 3 to 63 lowercase letters, digits, '.' and '-'.", bucket);
    }

    private static void ValidateContainer(string container)
    {
        var ok = container.Length is >= 3 and <= 63
                 && container.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-')
                 && char.IsAsciiLetterOrDigit(container[0]) && char.IsAsciiLetterOrDigit(container[^1])
                 && !container.Contains("--", StringComparison.Ordinal);
        if (!ok)
            throw new S3loException(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
                $"'{container}' is not a valid container name: 3 to 63 lowercase letters, digits and single '-', starting and ending with a letter or digit.",
                container);
    }
}
