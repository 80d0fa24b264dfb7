using System.Text.Json.Nodes;
using S3lo.Core.Storage;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Server;

/// <summary>
/// Real clients pull through the server from each kind of store: skopeo copies (which check every blob against its
/// digest) and inspects, podman pulls into its own storage; for a single image, a multi-platform index and a layer
/// stored chunked.
/// </summary>
public abstract class ServerPullTests(ImageFixture images) : ServedStoreTests(images)
{

    private string Skopeo(params string[] args) => Tool.Run("skopeo", ["--insecure-policy", .. args]);

    [Fact]
    public void Skopeo_copies_a_single_image_byte_for_byte_and_inspect_raw_is_the_stored_manifest()
    {
        Assert.Equal(Served.App.Json, Skopeo("inspect", "--tls-verify=false", "--raw", $"docker://{Server.Host}/app:v1"));
        var layout = Dir.File("app");
        Skopeo("copy", "--src-tls-verify=false", $"docker://{Server.Host}/app:v1", "oci:" + layout + ":v1");
        Assert.Equal(Served.App.Digest.ToString(), ImageFixture.ManifestDigest(layout, "v1"));
        foreach (var blob in Served.App.References)
            Assert.Equal(blob.Size, new FileInfo(Path.Combine(layout, "blobs", "sha256", blob.Digest.Hex)).Length);
    }

    [Fact]
    public void Skopeo_copies_a_multi_platform_index_with_all_its_platforms()
    {
        Assert.Equal(Served.Multi.Json, Skopeo("inspect", "--tls-verify=false", "--raw", $"docker://{Server.Host}/multi:v1"));
        var layout = Dir.File("multi");
        Skopeo("copy", "--all", "--src-tls-verify=false", $"docker://{Server.Host}/multi:v1", "oci:" + layout + ":v1");
        Assert.Equal(Served.Multi.Digest.ToString(), ImageFixture.ManifestDigest(layout, "v1"));
        foreach (var child in Served.Multi.Manifests)
            Assert.True(File.Exists(Path.Combine(layout, "blobs", "sha256", child.Digest.Hex)));
    }

    [Fact]
    public void Skopeo_copies_a_chunked_layer_streamed_from_its_chunks()
    {
        var layout = Dir.File("chunked");
        Skopeo("copy", "--src-tls-verify=false", $"docker://{Server.Host}/chunked:v1", "oci:" + layout + ":v1");
        var layer = Served.Chunked.Layers[0];
        Assert.Equal(Served.ChunkedLayer, File.ReadAllBytes(Path.Combine(layout, "blobs", "sha256", layer.Digest.Hex)));
    }

    [Fact]
    public void Podman_pulls_the_single_image_the_index_and_the_chunked_image()
    {
        // podman keeps sockets and locks under its storage paths, which must stay short.
        var root = "/tmp/s3lo-ps-" + Guid.NewGuid().ToString("N")[..6];
        string[] storage = ["--storage-driver", "vfs", "--root", root + "/root", "--runroot", root + "/run"];
        try
        {
            foreach (var image in (string[])["app:v1", "multi:v1", "chunked:v1"])
                Tool.Run("podman", [.. storage, "pull", "--tls-verify=false", "--platform", "linux/amd64", $"{Server.Host}/{image}"]);
            var digests = Tool.Run("podman", [.. storage, "images", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}"]);
            Assert.Contains($"{Server.Host}/app:v1 {Served.App.Digest}", digests);
            Assert.Contains($"{Server.Host}/multi:v1 {Served.Multi.Digest}", digests);
            Assert.Contains($"{Server.Host}/chunked:v1 {Served.Chunked.Digest}", digests);
            var arch = JsonNode.Parse(Tool.Run("podman", [.. storage, "image", "inspect", $"{Server.Host}/multi:v1"]))![0]!["Architecture"]!.GetValue<string>();
            Assert.Equal("amd64", arch);
        }
        finally
        {
            Tool.Run("podman", [.. storage, "system", "reset", "--force"]);
            if (Directory.Exists(root))
            {
                Tool.Run("chmod", "-R", "u+rwx", root);
                Directory.Delete(root, recursive: true);
            }
        }
    }
}

public sealed class LocalServerPullTests(ImageFixture images) : ServerPullTests(images), IClassFixture<ImageFixture>
{
    private readonly TempDir _root = new();

    protected override Task<ImageStore> CreateStoreAsync()
        => Task.FromResult(new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_root.File("store")))));
}

[Collection(RgwCollection.Name)]
public sealed class S3ServerPullTests(RgwServer server, ImageFixture images) : ServerPullTests(images), IClassFixture<ImageFixture>
{
    protected override async Task<ImageStore> CreateStoreAsync() => new(await server.NewStoreAsync());
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureServerPullTests(AzuriteServer server, ImageFixture images) : ServerPullTests(images), IClassFixture<ImageFixture>
{
    protected override async Task<ImageStore> CreateStoreAsync() => new(await server.NewStoreAsync());
}
