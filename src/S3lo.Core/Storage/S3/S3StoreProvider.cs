namespace S3lo.Core.Storage.S3;

/// <summary><c>s3://bucket/name:tag</c>: a bucket on AWS or an S3-compatible service.</summary>
public sealed class S3StoreProvider : NamedRootProvider<S3ConnectionOptions>
{
    public static S3StoreProvider Instance { get; } = new();

    private S3StoreProvider()
    {
    }

    public override string Scheme => "s3";

    /// <summary>The bucket as a store location; <paramref name="connection"/> null means the standard AWS chain.</summary>
    public static StoreLocation Location(string bucket, S3ConnectionOptions? connection = null) => Instance.CreateLocation(bucket, connection);

    public override async Task<IObjectStore> OpenAsync(StoreLocation location, CancellationToken cancellationToken)
        => await S3ObjectStore.OpenAsync(location, cancellationToken).ConfigureAwait(false);

    protected override void ValidateRoot(string bucket)
    {
        var ok = bucket.Length is >= 3 and <= 63
                 && bucket.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-')
                 && char.IsAsciiLetterOrDigit(bucket[0]) && char.IsAsciiLetterOrDigit(bucket[^1]);
        if (!ok)
            throw new S3loException(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
                $"'{bucket}' is not a valid bucket name: 3 to 63 lowercase letters, digits, '.' and '-'.", bucket);
    }
}
