namespace S3lo.Core.Storage;

/// <summary>
/// One store: a bucket, a container or a directory, with the settings that reach it. The settings travel with
/// the location, so an object listed from a store can be handed to another cmdlet and reach the same store.
/// Locations are made by their <see cref="IStoreProvider"/>; two are equal when provider, root and settings are.
/// </summary>
public sealed record StoreLocation
{
    internal StoreLocation(IStoreProvider provider, string root, object? settings)
    {
        Provider = provider;
        Root = root;
        Settings = settings;
    }

    internal IStoreProvider Provider { get; }

    /// <summary>The reference scheme of the store's provider: <c>s3</c>, <c>az</c> or <c>local</c>.</summary>
    public string Scheme => Provider.Scheme;

    /// <summary>The bucket or container name, or the absolute directory path of a local store.</summary>
    public string Root { get; }

    /// <summary>The provider's connection settings (<c>S3ConnectionOptions</c>, <c>AzureConnectionOptions</c>); null for a local store.</summary>
    public object? Settings { get; }

    /// <summary>The store as a reference prefix: <c>s3://bucket/</c>, <c>az://container/</c>, <c>local:///abs/path/</c>.</summary>
    public override string ToString() => $"{Scheme}://{Provider.FormatRoot(Root)}/";
}
