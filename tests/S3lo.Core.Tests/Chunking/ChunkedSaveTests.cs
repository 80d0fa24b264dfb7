using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Chunking;

/// <summary>
/// A store written chunked, saved: an OCI layout keeps the tar+zstd layer, which skopeo inspects and copies; a docker
/// archive holds the layer as its tar (the config's diff_id), which podman loads.
/// </summary>
[Collection(PodmanCollection.Name)]
public sealed class ChunkedSaveTests(PodmanService podman) : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly TarLayerImage _image = new(bigFileBytes: 3 << 20);
    private ImageStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store"))));
        var result = await Transfers.PushAsync(_image, _store, "app", "v1");
        Assert.True(result.ChunksUploaded > 0);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task An_OCI_layout_keeps_the_zstd_layer_and_skopeo_inspects_and_copies_it()
    {
        var layout = _dir.File("layout");
        await Transfers.SaveAsync(_store, Reference(), ImageFormat.OciLayout, layout, "app:v1");

        var layer = (await _store.GetTagAsync("app", "v1", default)).Manifest.Layers[0];
        Assert.True(File.Exists(Path.Combine(layout, "blobs", "sha256", layer.Digest.Hex)));
        var inspect = Tool.Run("skopeo", "inspect", "oci:" + layout + ":v1");
        Assert.Contains(layer.Digest.ToString(), inspect);
        var copy = _dir.File("copy");
        Tool.Run("skopeo", "--insecure-policy", "copy", "oci:" + layout + ":v1", "oci:" + copy + ":v1");
    }

    [Fact]
    public async Task A_docker_archive_holds_the_layer_as_its_tar_and_podman_loads_it()
    {
        var archive = _dir.File("app.tar");
        await Transfers.SaveAsync(_store, Reference(), ImageFormat.DockerArchive, archive, "localhost/chunked:v1");

        podman.Podman("load", "-i", archive);
        Assert.Equal([Digest.Compute(_image.RawLayer).ToString()], podman.RootFsLayers("localhost/chunked:v1"));
        podman.Podman("rmi", "localhost/chunked:v1");
    }

    private ImageReference Reference() => ImageReference.Create(_store.Location, "app", "v1", null);
}
