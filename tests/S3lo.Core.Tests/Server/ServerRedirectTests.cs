using System.Net;
using S3lo.Core.Oci;
using S3lo.Core.Server;
using S3lo.Core.Storage;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Server;

/// <summary>
/// -Redirect: a whole blob stored as one object is answered 307 to a URL of the store's own (S3 presigned, Azure SAS), and
/// skopeo fetches it from there, verified; a range and a layer stored only as chunks are still served by the server.
/// </summary>
public abstract class ServerRedirectTests(ImageFixture images) : ServedStoreTests(images)
{
    private protected override RegistryServerOptions ServerOptions => new() { RedirectDuration = TimeSpan.FromMinutes(5) };

    private string[] LogLines(string name, Digest digest)
    {
        lock (Server.Log) return Server.Log.Where(l => l.Contains($" GET /v2/{name}/blobs/{digest} ", StringComparison.Ordinal)).ToArray();
    }

    [Fact]
    public void Skopeo_copies_through_redirects_to_the_store_and_the_log_shows_the_307s()
    {
        var layout = Dir.File("app");
        Tool.Run("skopeo", "--insecure-policy", "copy", "--src-tls-verify=false", $"docker://{Server.Host}/app:v1", "oci:" + layout + ":v1");
        Assert.Equal(Served.App.Digest.ToString(), ImageFixture.ManifestDigest(layout, "v1"));
        foreach (var blob in Served.App.References)
        {
            Assert.Equal(blob.Size, new FileInfo(Path.Combine(layout, "blobs", "sha256", blob.Digest.Hex)).Length);
            Assert.Contains(LogLines("app", blob.Digest), l => l.Contains(" 307 ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void A_layer_stored_only_as_chunks_is_served_by_the_server_and_its_config_redirected()
    {
        var layout = Dir.File("chunked");
        Tool.Run("skopeo", "--insecure-policy", "copy", "--src-tls-verify=false", $"docker://{Server.Host}/chunked:v1", "oci:" + layout + ":v1");
        var layer = Served.Chunked.Layers[0];
        Assert.Equal(Served.ChunkedLayer, File.ReadAllBytes(Path.Combine(layout, "blobs", "sha256", layer.Digest.Hex)));
        Assert.All(LogLines("chunked", layer.Digest), l => Assert.Contains(" 200 ", l));
        Assert.NotEmpty(LogLines("chunked", layer.Digest));
        Assert.Contains(LogLines("chunked", Served.Chunked.Config!.Digest), l => l.Contains(" 307 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_range_is_served_directly_and_a_whole_blob_redirects_to_a_url_that_reads_it()
    {
        var layer = Served.App.Layers[0];
        var url = $"http://{Server.Host}/v2/app/blobs/{layer.Digest}";
        using var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var ranged = new HttpRequestMessage(HttpMethod.Get, url);
        ranged.Headers.TryAddWithoutValidation("Range", "bytes=0-9");
        using (var partial = await noRedirects.SendAsync(ranged))
            Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);

        using var whole = await noRedirects.GetAsync(url);
        Assert.Equal(HttpStatusCode.TemporaryRedirect, whole.StatusCode);
        var location = whole.Headers.Location!;
        Assert.NotEqual(Server.Endpoint.Port, location.Port);
        Assert.Equal(layer.Digest, Digest.Compute(await noRedirects.GetByteArrayAsync(location)));
    }
}

[Collection(RgwCollection.Name)]
public sealed class S3ServerRedirectTests(RgwServer server, ImageFixture images) : ServerRedirectTests(images), IClassFixture<ImageFixture>
{
    protected override async Task<ImageStore> CreateStoreAsync() => new(await server.NewStoreAsync());
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureServerRedirectTests(AzuriteServer server, ImageFixture images) : ServerRedirectTests(images), IClassFixture<ImageFixture>
{
    protected override async Task<ImageStore> CreateStoreAsync() => new(await server.NewStoreAsync());

    [Fact]
    public async Task Redirect_on_a_container_reached_with_a_sas_token_is_refused_with_a_clear_error()
    {
        var container = server.NewContainer();
        var sas = server.Client(container).GenerateSasUri(Azure.Storage.Sas.BlobContainerSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1)).Query;
        var connection = server.Connection() with { AccountKey = null, SasToken = sas };
        await using var store = new ImageStore(await AzureObjectStore.OpenAsync(AzureStoreProvider.Location(container, connection), connection, default));
        var e = Assert.Throws<S3loException>(() => new StoreRegistryServer(store, new RegistryServerOptions { Port = 0, RedirectDuration = TimeSpan.FromMinutes(5) }));
        Assert.Equal(ErrorIds.RedirectUnsupported, e.ErrorId);
        Assert.Contains("SAS token", e.Message);
    }
}

public sealed class LocalServerRedirectTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public async Task Redirect_on_a_local_store_is_refused_with_a_clear_error()
    {
        await using var store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store"))));
        var e = Assert.Throws<S3loException>(() => new StoreRegistryServer(store, new RegistryServerOptions { Port = 0, RedirectDuration = TimeSpan.FromMinutes(5) }));
        Assert.Equal(ErrorIds.RedirectUnsupported, e.ErrorId);
        Assert.Contains("-Redirect", e.Message);
    }

    public void Dispose() => _dir.Dispose();
}
