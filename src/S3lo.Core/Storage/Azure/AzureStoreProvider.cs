namespace S3lo.Core.Storage.Azure;

/// <summary><c>az://container/name:tag</c>: a container of Azure Blob Storage; the account comes from the settings, not the reference.</summary>
public sealed class AzureStoreProvider : NamedRootProvider<AzureConnectionOptions>
{
    public static AzureStoreProvider Instance { get; } = new();

    private AzureStoreProvider()
    {
    }

    public override string Scheme => "az";

    /// <summary>The container as a store location; <paramref name="options"/> null means AZURE_STORAGE_ACCOUNT and DefaultAzureCredential.</summary>
    public static StoreLocation Location(string container, AzureConnectionOptions? options = null) => Instance.CreateLocation(container, options);

    public override async Task<IObjectStore> OpenAsync(StoreLocation location, CancellationToken cancellationToken)
        => await AzureObjectStore.OpenAsync(location, SettingsOf(location), cancellationToken).ConfigureAwait(false);

    /// <summary>Azure's container names: 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.</summary>
    protected override void ValidateRoot(string container)
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
