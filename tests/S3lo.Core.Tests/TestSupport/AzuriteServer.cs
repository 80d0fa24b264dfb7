using Azure.Storage;
using Azure.Storage.Blobs;
using S3lo.Core.Storage.Azure;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>
/// A real Azure Blob Storage for the tests: Azurite's blob service on 127.0.0.1, started by the project's
/// tests/servers/start-azurite.sh (which installs it into tests/work on first use) and stopped by its PID when the
/// test collection ends.
/// </summary>
public sealed class AzuriteServer : IDisposable
{
    public const string AccountName = "devstoreaccount1";
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private readonly string _base;
    private readonly Dictionary<string, string> _env;
    private int _containers;

    public AzuriteServer()
    {
        var port = TestPorts.Free();
        EndpointUrl = $"http://127.0.0.1:{port}/{AccountName}";
        _base = Directory.CreateTempSubdirectory("s3lo-xunit-azurite-").FullName;
        _env = new Dictionary<string, string>
        {
            ["AZURITE_BASE"] = _base,
            ["AZURITE_PORT"] = port.ToString(),
        };
        Script("start-azurite.sh");
    }

    /// <summary>The blob service endpoint, with the account as the first path segment as Azurite serves it.</summary>
    public string EndpointUrl { get; }

    /// <summary>Shared-key access to <see cref="EndpointUrl"/>; nothing is taken from the environment.</summary>
    public AzureConnectionOptions Connection() => new()
    {
        AccountName = AccountName,
        AccountKey = AccountKey,
        ConnectionString = null,
        EndpointUrl = EndpointUrl,
    };

    /// <summary>Creates a fresh container so each test starts from an empty store.</summary>
    public string NewContainer()
    {
        var name = $"test-{Interlocked.Increment(ref _containers)}-{Guid.NewGuid():N}"[..30];
        Client(name).Create();
        return name;
    }

    /// <summary>The SDK's own client for a container, to look at what the store wrote behind its back.</summary>
    public BlobContainerClient Client(string container)
        => new(new Uri($"{EndpointUrl}/{container}"), new StorageSharedKeyCredential(AccountName, AccountKey));

    /// <summary>An Azure store on a fresh container, reached with <see cref="Connection"/>.</summary>
    public async Task<AzureObjectStore> NewStoreAsync()
        => await AzureObjectStore.OpenAsync(AzureStoreProvider.Location(NewContainer(), Connection()), Connection(), default);

    public void Dispose()
    {
        Script("stop-azurite.sh", "--purge");
    }

    private void Script(string name, params string[] args)
    {
        var script = Path.Combine(RgwServer.RepoRoot, "tests", "servers", name);
        Tool.Run("bash", [script, .. args], _env, TimeSpan.FromMinutes(5));
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteServer>
{
    public const string Name = "Azurite";
}
