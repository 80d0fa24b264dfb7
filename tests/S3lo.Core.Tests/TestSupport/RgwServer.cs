using System.Diagnostics;
using S3lo.Core.Storage;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>
/// A real S3 server for the tests: Ceph RADOS Gateway on 127.0.0.1, started by the project's
/// tests/servers/start-rgw.sh and stopped by its PIDs when the test collection ends.
/// </summary>
public sealed class RgwServer : IDisposable
{
    public const string AccessKey = "s3lo-test-key";
    public const string SecretKey = "s3lo-test-secret";
    private readonly string _base;
    private readonly Dictionary<string, string> _env;
    private int _buckets;

    public RgwServer()
    {
        var port = TestPorts.Free();
        EndpointUrl = $"http://127.0.0.1:{port}";
        _base = Directory.CreateTempSubdirectory("s3lo-xunit-rgw-").FullName;
        _env = new Dictionary<string, string>
        {
            ["RGW_BASE"] = _base,
            ["RGW_PORT"] = port.ToString(),
            ["RGW_MON_V2_PORT"] = TestPorts.Free().ToString(),
            ["RGW_MON_V1_PORT"] = TestPorts.Free().ToString(),
            ["RGW_ACCESS_KEY"] = AccessKey,
            ["RGW_SECRET_KEY"] = SecretKey,
            ["RGW_STORAGE_CLASSES"] = "INTELLIGENT_TIERING",
        };
        Script("start-rgw.sh");
    }

    public string EndpointUrl { get; }

    public S3ConnectionOptions Connection(string? blobClass = null, string? manifestClass = null) => new()
    {
        EndpointUrl = EndpointUrl,
        AccessKey = AccessKey,
        SecretKey = SecretKey,
        Region = "us-east-1",
        BlobStorageClass = blobClass,
        ManifestStorageClass = manifestClass,
    };

    /// <summary>Creates a fresh bucket so each test starts from an empty store.</summary>
    public string NewBucket()
    {
        var name = $"test-{Interlocked.Increment(ref _buckets)}-{Guid.NewGuid():N}"[..30];
        Tool.Run("curl", "-sf", "-X", "PUT", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", $"{AccessKey}:{SecretKey}",
            "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", $"{EndpointUrl}/{name}");
        return name;
    }

    /// <summary>An S3 store on a fresh bucket, with <see cref="Connection"/>'s defaults.</summary>
    public async Task<S3ObjectStore> NewStoreAsync() => await S3ObjectStore.OpenAsync(S3StoreProvider.Location(NewBucket(), Connection()), default);

    public void Dispose()
    {
        Script("stop-rgw.sh", "--purge");
    }

    private void Script(string name, params string[] args)
    {
        var script = Path.Combine(RepoRoot, "tests", "servers", name);
        Tool.Run("bash", [script, .. args], _env, TimeSpan.FromMinutes(3));
    }

    public static string RepoRoot
    {
        get
        {
            for (var dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
            {
                if (File.Exists(Path.Combine(dir, "S3lo.slnx"))) return dir;
            }
            throw new InvalidOperationException("The repository root (S3lo.slnx) was not found above " + AppContext.BaseDirectory);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RgwCollection : ICollectionFixture<RgwServer>
{
    public const string Name = "RGW";
}
