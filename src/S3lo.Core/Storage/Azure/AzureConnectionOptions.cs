namespace S3lo.Core.Storage.Azure;

/// <summary>
/// How to reach Azure Blob Storage. The credential used is the first one given of: the connection string,
/// the account key, the SAS token; without any of them, DefaultAzureCredential (environment, workload
/// identity, managed identity, Azure CLI, Azure PowerShell, …) signs the requests.
/// </summary>
public sealed record AzureConnectionOptions
{
    /// <summary>The storage account; defaults to AZURE_STORAGE_ACCOUNT. Not needed with a connection string, or when <see cref="EndpointUrl"/> names it.</summary>
    public string? AccountName { get; init; } = FromEnvironment("AZURE_STORAGE_ACCOUNT");

    // Internal so that no secret ever shows in a listed object's properties, its ToString or ConvertTo-Json.
    /// <summary>A storage connection string; defaults to AZURE_STORAGE_CONNECTION_STRING.</summary>
    internal string? ConnectionString { get; init; } = FromEnvironment("AZURE_STORAGE_CONNECTION_STRING");
    internal string? AccountKey { get; init; }
    internal string? SasToken { get; init; }

    /// <summary>
    /// The blob service endpoint, for emulators and sovereign clouds: <c>http://127.0.0.1:10000/devstoreaccount1</c> for Azurite,
    /// <c>https://account.blob.core.chinacloudapi.cn</c>. Null means <c>https://&lt;account&gt;.blob.core.windows.net</c>.
    /// </summary>
    public string? EndpointUrl { get; init; }

    /// <summary>Access tier for blobs and chunks (FORMAT.md: Cool); null or empty leaves the account's default tier.</summary>
    public string? BlobTier { get; init; } = "Cool";

    /// <summary>Access tier for manifests and other metadata (FORMAT.md: Hot); null or empty leaves the account's default tier.</summary>
    public string? MetadataTier { get; init; } = "Hot";

    private static string? FromEnvironment(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
}
