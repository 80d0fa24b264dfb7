using System.Text;
using System.Text.Json.Nodes;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Registry;
using S3lo.Core.Storage;
using S3lo.Core.Tests.TestSupport;
using S3lo.Core.Transfer;

namespace S3lo.Core.Tests.Registry;

[Collection(RegistryCollection.Name)]
public sealed class RegistryTests(RegistryFixture fixture) : IDisposable
{
    private static readonly RegistryClientOptions Anonymous = new() { UseDockerConfig = false, RetryDelay = TimeSpan.FromMilliseconds(10) };
    private readonly TempDir _dir = new();

    [Fact]
    public async Task Pulls_a_single_image_into_a_store_with_every_byte_as_served()
    {
        using var client = new RegistryClient(fixture.Anonymous.Host, Anonymous);
        var (store, result) = await PullAsync(client, $"{fixture.Anonymous.Host}/app:v1", null);

        var raw = RegistryFixture.RawManifest(fixture.Anonymous.Host, "app:v1");
        var stored = await store.GetTagAsync("app", "v1", default);
        Assert.Equal(raw, Encoding.UTF8.GetString(stored.Manifest.Bytes));
        Assert.Equal(result.Digest, stored.Manifest.Digest.ToString());
        await AssertBlobsStoredAsync(store, stored.Manifest, fixture.Images.Layout);
    }

    [Fact]
    public async Task Pulls_a_multi_platform_index_verbatim_with_every_platform()
    {
        using var client = new RegistryClient(fixture.Anonymous.Host, Anonymous);
        var (store, _) = await PullAsync(client, $"{fixture.Anonymous.Host}/multi:v1", null);

        var stored = await store.GetTagAsync("multi", "v1", default);
        Assert.True(stored.Manifest.IsIndex);
        Assert.Equal(RegistryFixture.RawManifest(fixture.Anonymous.Host, "multi:v1"), Encoding.UTF8.GetString(stored.Manifest.Bytes));
        Assert.Equal(["linux/amd64", "linux/arm64"], stored.Manifest.Platforms.Select(p => p.ToString()));
        foreach (var child in stored.Manifest.Manifests)
        {
            var manifest = await store.GetManifestBlobAsync(child, default);
            await AssertBlobsStoredAsync(store, manifest, fixture.MultiLayout);
        }
    }

    [Fact]
    public async Task Pulls_one_platform_of_an_index_as_its_image_manifest()
    {
        using var client = new RegistryClient(fixture.Anonymous.Host, Anonymous);
        var (store, _) = await PullAsync(client, $"{fixture.Anonymous.Host}/multi:v1", Platform.Parse("linux/arm64"));

        var stored = await store.GetTagAsync("multi", "v1", default);
        Assert.False(stored.Manifest.IsIndex);
        Assert.Equal(ImageFixture.ManifestDigest(fixture.MultiLayout, "arm64"), stored.Manifest.Digest.ToString());
        await AssertBlobsStoredAsync(store, stored.Manifest, fixture.MultiLayout);
    }

    [Fact]
    public async Task Pulls_by_digest_and_reports_a_missing_image()
    {
        using var client = new RegistryClient(fixture.Anonymous.Host, Anonymous);
        var digest = ImageFixture.ManifestDigest(fixture.Images.Layout, "v1");
        var manifest = await client.GetManifestAsync("app", digest, default);
        Assert.Equal(digest, manifest.Digest.ToString());

        var e = await Assert.ThrowsAsync<S3loException>(() => client.GetManifestAsync("app", "nope", default));
        Assert.Equal(ErrorIds.ImageNotFound, e.ErrorId);
        var missing = new Descriptor(MediaTypes.OciLayerGzip, Digest.Compute("absent"u8), 6);
        var b = await Assert.ThrowsAsync<S3loException>(() => client.OpenBlobAsync("app", missing, default));
        Assert.Equal(ErrorIds.BlobNotFound, b.ErrorId);
        Assert.False(await client.BlobExistsAsync("app", missing.Digest, default));
    }

    [Fact]
    public async Task Pulls_behind_basic_auth_with_explicit_or_docker_config_credentials()
    {
        var host = fixture.Authenticated.Host;
        using (var client = new RegistryClient(host, Anonymous with { Credentials = new RegistryCredentials(RegistryFixture.User, RegistryFixture.Password) }))
        {
            var (store, _) = await PullAsync(client, $"{host}/app:v1", null);
            await AssertBlobsStoredAsync(store, (await store.GetTagAsync("app", "v1", default)).Manifest, fixture.Images.Layout);
        }

        var config = _dir.File("config.json");
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{RegistryFixture.User}:{RegistryFixture.Password}"));
        File.WriteAllText(config, new JsonObject { ["auths"] = new JsonObject { [$"http://{host}/v2/"] = new JsonObject { ["auth"] = auth } } }.ToJsonString());
        using (var client = new RegistryClient(host, new RegistryClientOptions { DockerConfigPath = config }))
        {
            var manifest = await client.GetManifestAsync("app", "v1", default);
            Assert.Equal(ImageFixture.ManifestDigest(fixture.Images.Layout, "v1"), manifest.Digest.ToString());
        }
    }

    [Fact]
    public async Task Refuses_a_wrong_password_or_no_credentials_as_access_denied()
    {
        var host = fixture.Authenticated.Host;
        using var wrong = new RegistryClient(host, Anonymous with { Credentials = new RegistryCredentials(RegistryFixture.User, "wrong") });
        var e = await Assert.ThrowsAsync<S3loException>(() => wrong.GetManifestAsync("app", "v1", default));
        Assert.Equal(ErrorIds.RegistryAccessDenied, e.ErrorId);

        using var none = new RegistryClient(host, Anonymous);
        e = await Assert.ThrowsAsync<S3loException>(() => RegistryImageSource.OpenAsync(none, RegistryReference.Parse($"{host}/app:v1"), null, default));
        Assert.Equal(ErrorIds.RegistryAccessDenied, e.ErrorId);
    }

    [Fact]
    public async Task Pulls_with_a_bearer_token_fetched_once_per_scope()
    {
        using var proxy = new RegistryProxy(fixture.Anonymous.Host) { BearerCredentials = $"{RegistryFixture.User}:{RegistryFixture.Password}" };
        using var client = new RegistryClient(proxy.Host, Anonymous with { Credentials = new RegistryCredentials(RegistryFixture.User, RegistryFixture.Password) });
        var (store, _) = await PullAsync(client, $"{proxy.Host}/app:v1", null);
        await AssertBlobsStoredAsync(store, (await store.GetTagAsync("app", "v1", default)).Manifest, fixture.Images.Layout);
        Assert.Equal(1, proxy.TokensIssued);

        using var wrong = new RegistryClient(proxy.Host, Anonymous with { Credentials = new RegistryCredentials(RegistryFixture.User, "wrong") });
        var e = await Assert.ThrowsAsync<S3loException>(() => wrong.GetManifestAsync("app", "v1", default));
        Assert.Equal(ErrorIds.RegistryAccessDenied, e.ErrorId);
    }

    [Fact]
    public async Task Pushes_a_stored_image_and_index_to_the_registry_with_the_same_bytes()
    {
        using var client = new RegistryClient(fixture.Anonymous.Host, Anonymous);
        await using var store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store"))));
        await using (var layout = await ImageSources.OpenAsync(fixture.Images.Layout, "v2", default))
            await Transfers.PushAsync(layout, store, "app", "v2");
        await using (var multi = await RegistryImageSource.OpenAsync(client, RegistryReference.Parse($"{fixture.Anonymous.Host}/multi:v1"), null, default))
            await Transfers.PushAsync(multi, store, "multi", "v1");

        using var authenticated = new RegistryClient(fixture.Authenticated.Host,
            Anonymous with { Credentials = new RegistryCredentials(RegistryFixture.User, RegistryFixture.Password) });
        var creds = $"{RegistryFixture.User}:{RegistryFixture.Password}";
        foreach (var (name, tag) in new[] { ("app", "v2"), ("multi", "v1") })
        {
            var stored = await store.GetTagAsync(name, tag, default);
            var destination = RegistryReference.Parse($"{fixture.Authenticated.Host}/pushed/{name}:{tag}");
            var result = await PushToRegistryAsync(store, name, tag, authenticated, destination);
            Assert.Equal(stored.Manifest.Digest.ToString(), result.Digest);
            Assert.Equal(Encoding.UTF8.GetString(stored.Manifest.Bytes), RegistryFixture.RawManifest(fixture.Authenticated.Host, $"pushed/{name}:{tag}", creds));

            var again = await PushToRegistryAsync(store, name, tag, authenticated, destination);
            Assert.Equal(0, again.BlobsUploaded);
        }
        Tool.Run("skopeo", "copy", "--all", "--src-tls-verify=false", "--src-creds", creds,
            $"docker://{fixture.Authenticated.Host}/pushed/multi:v1", "oci:" + _dir.File("check") + ":v1");
    }

    [Fact]
    public async Task Copies_an_image_between_repositories_of_one_registry_sending_each_blob_once()
    {
        // Both sides are one registry behind the proxy, which counts what it accepted to be written: uploads and manifest PUTs.
        using var proxy = new RegistryProxy(fixture.Anonymous.Host);
        using var client = new RegistryClient(proxy.Host, Anonymous);
        var repository = "copied-" + Guid.NewGuid().ToString("N")[..8] + "/app";
        var source = RegistryReference.Parse($"{proxy.Host}/app:v1");
        var destination = RegistryReference.Parse($"{proxy.Host}/{repository}:v1");

        var result = await CopyBetweenRegistriesAsync(client, source, client, destination);
        var raw = RegistryFixture.RawManifest(fixture.Anonymous.Host, "app:v1");
        Assert.Equal(raw, RegistryFixture.RawManifest(fixture.Anonymous.Host, $"{repository}:v1"));
        var manifest = Manifest.Parse(Encoding.UTF8.GetBytes(raw));
        Assert.Equal(manifest.Digest.ToString(), result.Digest);
        Assert.Equal(manifest.References.Count(), proxy.BlobUploads);
        Assert.Equal(new[] { $"/v2/{repository}/manifests/v1" }, proxy.ManifestPuts);
        Assert.Equal(destination.ToString(), result.Reference);

        var again = await CopyBetweenRegistriesAsync(client, source, client, destination);
        Assert.Equal(manifest.References.Count(), proxy.BlobUploads);
        Assert.Equal((0, manifest.References.Count()), (again.BlobsUploaded, again.BlobsSkipped));
    }

    [Fact]
    public async Task Copies_a_multi_platform_index_to_another_registry_keeping_its_digest()
    {
        var creds = $"{RegistryFixture.User}:{RegistryFixture.Password}";
        using var proxy = new RegistryProxy(fixture.Authenticated.Host);
        using var from = new RegistryClient(fixture.Anonymous.Host, Anonymous);
        using var to = new RegistryClient(proxy.Host, Anonymous with { Credentials = new RegistryCredentials(RegistryFixture.User, RegistryFixture.Password) });
        var repository = "copied-" + Guid.NewGuid().ToString("N")[..8] + "/multi";
        var source = RegistryReference.Parse($"{fixture.Anonymous.Host}/multi:v1");
        var destination = RegistryReference.Parse($"{proxy.Host}/{repository}:v1");

        var result = await CopyBetweenRegistriesAsync(from, source, to, destination);
        var raw = RegistryFixture.RawManifest(fixture.Anonymous.Host, "multi:v1");
        var index = Manifest.Parse(Encoding.UTF8.GetBytes(raw));
        Assert.True(index.IsIndex);
        Assert.Equal(index.Digest.ToString(), result.Digest);
        Assert.Equal(raw, RegistryFixture.RawManifest(fixture.Authenticated.Host, $"{repository}:v1", creds));
        var layout = _dir.File("copied-index");
        Tool.Run("skopeo", "copy", "--all", "--src-tls-verify=false", "--src-creds", creds,
            $"docker://{fixture.Authenticated.Host}/{repository}:v1", "oci:" + layout + ":v1");
        Assert.Equal(index.Digest.ToString(), ImageFixture.ManifestDigest(layout, "v1"));

        // Both platforms' configs and layers (they share one layer), each once; the children by digest, then the tag last.
        var blobs = new HashSet<Digest>();
        foreach (var child in index.Manifests)
            blobs.UnionWith(Manifest.Parse(ImageFixture.BlobBytes(fixture.MultiLayout, child.Digest.ToString())).References.Select(b => b.Digest));
        Assert.Equal(blobs.Count, proxy.BlobUploads);
        Assert.Equal(index.Manifests.Count + 1, proxy.ManifestPuts.Count);
        Assert.Equal($"/v2/{repository}/manifests/v1", proxy.ManifestPuts.Last());
        Assert.Equal(blobs.Count + index.Manifests.Count, result.BlobsUploaded);

        var again = await CopyBetweenRegistriesAsync(from, source, to, destination);
        Assert.Equal(blobs.Count, proxy.BlobUploads);
        Assert.Equal(index.Manifests.Count + 2, proxy.ManifestPuts.Count);
        Assert.Equal((0, blobs.Count + index.Manifests.Count), (again.BlobsUploaded, again.BlobsSkipped));
    }

    [Fact]
    public async Task A_blob_that_does_not_match_its_digest_fails_the_pull_and_is_not_stored()
    {
        var manifest = Manifest.Parse(ImageFixture.BlobBytes(fixture.Images.Layout, ImageFixture.ManifestDigest(fixture.Images.Layout, "v1")));
        var layer = manifest.Layers[0];
        using var proxy = new RegistryProxy(fixture.Anonymous.Host) { CorruptBlob = layer.Digest.ToString() };
        using var client = new RegistryClient(proxy.Host, Anonymous);
        await using var store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store"))));
        await using var source = await RegistryImageSource.OpenAsync(client, RegistryReference.Parse($"{proxy.Host}/app:v1"), null, default);

        var e = await Assert.ThrowsAsync<S3loException>(() => Transfers.PushAsync(source, store, "app", "v1"));
        Assert.Equal(ErrorIds.DigestMismatch, e.ErrorId);
        Assert.False(await store.BlobExistsAsync(layer.Digest, default));
        Assert.Null(await store.TryGetTagAsync("app", "v1", default));
    }

    [Theory]
    [InlineData(2, 0)]
    [InlineData(0, 1)]
    public async Task Throttled_or_dropped_blob_requests_are_retried_and_verified(int throttles, int drops)
    {
        using var proxy = new RegistryProxy(fixture.Anonymous.Host) { ThrottleBlobRequests = throttles, DropBlobConnections = drops };
        using var client = new RegistryClient(proxy.Host, Anonymous);
        var (store, _) = await PullAsync(client, $"{proxy.Host}/app:v1", null);

        var stored = await store.GetTagAsync("app", "v1", default);
        await AssertBlobsStoredAsync(store, stored.Manifest, fixture.Images.Layout);
        Assert.True(proxy.BlobRequests > stored.Manifest.References.Count());
    }

    [Fact]
    public async Task A_failed_blob_upload_is_sent_again()
    {
        var store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("upload-store"))));
        await using (var layout = await ImageSources.OpenAsync(fixture.Images.Layout, "v1", default))
            await Transfers.PushAsync(layout, store, "app", "v1");
        using var proxy = new RegistryProxy(fixture.Anonymous.Host) { FailBlobUploads = 2 };
        using var client = new RegistryClient(proxy.Host, Anonymous);
        var destination = RegistryReference.Parse($"{proxy.Host}/retried/app:v1");
        var result = await PushToRegistryAsync(store, "app", "v1", client, destination);

        Assert.Equal(2, proxy.FailedUploads);
        Assert.Equal(result.BytesTotal, result.BytesUploaded);
        var stored = await store.GetTagAsync("app", "v1", default);
        Assert.Equal(Encoding.UTF8.GetString(stored.Manifest.Bytes), RegistryFixture.RawManifest(fixture.Anonymous.Host, "retried/app:v1", null));
    }

    [Fact]
    public async Task An_unreachable_registry_is_reported_as_such()
    {
        using var client = new RegistryClient($"127.0.0.1:{TestPorts.Free()}", Anonymous with { MaxAttempts = 2 });
        var e = await Assert.ThrowsAsync<S3loException>(() => client.GetManifestAsync("app", "v1", default));
        Assert.Equal(ErrorIds.RegistryUnreachable, e.ErrorId);
    }

    private async Task<(ImageStore Store, TransferResult Result)> PullAsync(RegistryClient client, string reference, Platform? platform)
    {
        var parsed = RegistryReference.Parse(reference);
        var store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store-" + Guid.NewGuid().ToString("N")[..8]))));
        await using var source = await RegistryImageSource.OpenAsync(client, parsed, platform, default);
        var result = await Transfers.PushAsync(source, store, parsed.Repository, parsed.Tag!);
        return (store, result);
    }

    private static async Task<TransferResult> PushToRegistryAsync(ImageStore store, string name, string tag, RegistryClient client, RegistryReference destination)
    {
        await using var source = await StoreImageSource.OpenAsync(store, ImageReference.Create(store.Location, name, tag, null), null, default);
        await using var target = new RegistryDestination(client, destination);
        return await ImageTransfer.CopyAsync(source, target, null, null, default);
    }

    private static async Task<TransferResult> CopyBetweenRegistriesAsync(RegistryClient sourceClient, RegistryReference source,
        RegistryClient destinationClient, RegistryReference destination)
    {
        await using var image = await RegistryImageSource.OpenAsync(sourceClient, source, null, default);
        await using var target = new RegistryDestination(destinationClient, destination);
        return await ImageTransfer.CopyAsync(image, target, null, null, default);
    }

    /// <summary>Every blob the manifest names is in the store (read back through its verifying stream) with the bytes
    /// the OCI layout the image came from has.</summary>
    private static async Task AssertBlobsStoredAsync(ImageStore store, Manifest manifest, string layout)
    {
        foreach (var descriptor in manifest.References)
        {
            await using var stream = await store.OpenBlobAsync(descriptor, default);
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer);
            Assert.Equal(ImageFixture.BlobBytes(layout, descriptor.Digest.ToString()), buffer.ToArray());
        }
    }

    public void Dispose() => _dir.Dispose();
}
