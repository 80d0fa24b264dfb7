using S3lo.Core.Oci;

namespace S3lo.Core.Storage.Azure;

/// <summary><c>az://container/name:tag</c>: a container of Azure Blob Storage; the account comes from the settings, not the reference.</summary>
public sealed class AzureStoreProvider : IStoreProvider
{
    public static AzureStoreProvider Instance { get; } = new();

    private AzureStoreProvider()
    {
    }

    public string Scheme => "az";

    /// <summary>The container as a store location; <paramref name="options"/> null means AZURE_STORAGE_ACCOUNT and DefaultAzureCredential.</summary>
    public static StoreLocation Location(string container, AzureConnectionOptions? options = null)
    {
        ValidateContainer(container);
        return new StoreLocation(Instance, container, options ?? new AzureConnectionOptions());
    }

    public (StoreLocation Store, string? Image) ParseReference(string text, string rest, StoreContext context)
    {
        var slash = rest.IndexOf('/');
        var store = Location(slash < 0 ? rest : rest[..slash], context.Get<AzureConnectionOptions>());
        var image = slash < 0 ? "" : rest[(slash + 1)..];
        return (store, image.Length == 0 ? null : image);
    }

    public StoreLocation ParseStore(string text, string rest, StoreContext context)
    {
        var (store, image) = ParseReference(text, rest, context);
        return image is null ? store : throw ImageReference.NotAStore(text);
    }

    public string FormatRoot(string root) => root;

    public async Task<IObjectStore> OpenAsync(StoreLocation location, CancellationToken cancellationToken)
        => await AzureObjectStore.OpenAsync(location, location.Settings as AzureConnectionOptions ?? new AzureConnectionOptions(), cancellationToken)
            .ConfigureAwait(false);

    /// <summary>Azure's container names: 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.</summary>
    private static void ValidateContainer(string container)
    {
        var ok = container.Length is >= 3 and <= 63
                 && container.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-')
                 && char.IsAsciiLetterOrDigit(container[0]) && char.IsAsciiLetterOrDigit(container[^1])
                 && !container.Contains("--", StringComparison.Ordinal);
        if (!ok)
            throw new S3loException(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
                $"'{container}' is not a valid container name: 3 to 63 lowercase letters, digits and single '-', starting and ending with a letter or digit.", container);
    }
}
