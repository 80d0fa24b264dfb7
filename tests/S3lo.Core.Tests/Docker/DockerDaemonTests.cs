using System.Text.Json;
using S3lo.Core.Docker;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Tests.TestSupport;
using S3lo.Core.Transfer;
using static S3lo.Core.Tests.TestSupport.ImageAssert;

namespace S3lo.Core.Tests.Docker;

[Collection(PodmanCollection.Name)]
public sealed class DockerDaemonTests(PodmanService podman) : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public async Task An_image_from_the_daemon_pushes_into_a_store_with_its_layers_and_verified_blobs()
    {
        using var daemon = DockerDaemon.Create(podman.Host);
        await using var store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store"))));
        TransferResult pushed;
        await using (var source = await DockerDaemonSource.OpenAsync(daemon, PodmanService.AppImage, null, default))
        {
            Assert.Equal(new Platform(podman.ImageField(PodmanService.AppImage, "Os"), podman.ImageField(PodmanService.AppImage, "Architecture")), source.Platform);
            pushed = await Transfers.PushAsync(source, store, "app", "v1");
        }
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), "s3lo-docker-*"));

        var manifest = (await store.GetTagAsync("app", "v1", default)).Manifest;
        Assert.Equal(pushed.Digest, manifest.Digest.ToString());
        foreach (var blob in manifest.References)
        {
            Assert.True(await store.BlobExistsAsync(blob.Digest, default), $"{blob.Digest} is missing from the store");
            var bytes = await ReadStoredBlobAsync(store, blob);
            Assert.Equal(blob.Size, bytes.Length);
            Assert.Equal(blob.Digest.ToString(), Digest.Compute(bytes).ToString());
        }
        using var config = JsonDocument.Parse(await ReadStoredBlobAsync(store, manifest.Config!));
        var diffIds = config.RootElement.GetProperty("rootfs").GetProperty("diff_ids").EnumerateArray().Select(d => d.GetString()!).ToList();
        Assert.Equal(podman.RootFsLayers(PodmanService.AppImage), diffIds);
    }

    [Fact]
    public async Task The_daemon_describes_the_image_as_podman_does()
    {
        using var daemon = DockerDaemon.Create(podman.Host);
        var image = await daemon.InspectImageAsync(PodmanService.AppImage, default);
        Assert.Equal(podman.RootFsLayers(PodmanService.AppImage), image.Layers);
        Assert.Contains(PodmanService.AppImage, image.RepoTags);
        Assert.Equal(podman.ImageField(PodmanService.AppImage, "Id"), image.Id.Replace("sha256:", ""));
    }

    [Fact]
    public async Task The_requested_platform_is_accepted_when_the_daemon_holds_it()
    {
        using var daemon = DockerDaemon.Create(podman.Host);
        var platform = Platform.Parse(podman.ImageField(PodmanService.AppImage, "Os") + "/" + podman.ImageField(PodmanService.AppImage, "Architecture"));
        await using var source = await DockerDaemonSource.OpenAsync(daemon, PodmanService.AppImage, platform, default);
        Assert.Equal(platform, source.Platform);
        Assert.False(source.Root.IsIndex);
    }

    [Fact]
    public async Task Another_platform_than_the_daemon_holds_is_PlatformNotFound_naming_what_it_holds()
    {
        using var daemon = DockerDaemon.Create(podman.Host);
        var held = podman.ImageField(PodmanService.AppImage, "Architecture");
        var wanted = new Platform("linux", held == "arm64" ? "amd64" : "arm64");
        var e = await ThrowsS3loAsync(ErrorIds.PlatformNotFound, () => DockerDaemonSource.OpenAsync(daemon, PodmanService.AppImage, wanted, default));
        Assert.Contains("linux/" + held, e.Message);
        Assert.Contains(wanted.ToString(), e.Message);
    }

    [Fact]
    public async Task From_a_manifest_list_the_host_platform_is_read_and_every_held_platform_named()
    {
        using var daemon = DockerDaemon.Create(podman.Host);
        await using var source = await DockerDaemonSource.OpenAsync(daemon, PodmanService.MultiImage, null, default);

        Assert.Equal(Platform.Host, source.Platform);
        Assert.Equal([Platform.Host, PodmanService.OtherPlatform, PodmanService.AbsentPlatform], source.HeldPlatforms);
        Assert.False(source.Root.IsIndex);
        await AssertReadsImageAsync(source, PodmanService.MultiImagePart(Platform.Host), Platform.Host);
    }

    [Fact]
    public async Task From_a_manifest_list_the_requested_platform_is_read()
    {
        using var daemon = DockerDaemon.Create(podman.Host);
        var other = PodmanService.OtherPlatform;
        await using var source = await DockerDaemonSource.OpenAsync(daemon, PodmanService.MultiImage, other, default);

        Assert.Equal(other, source.Platform);
        await AssertReadsImageAsync(source, PodmanService.MultiImagePart(other), other);
    }

    [Fact]
    public async Task A_platform_the_manifest_list_lacks_is_PlatformNotFound_naming_what_it_offers()
    {
        using var daemon = DockerDaemon.Create(podman.Host);
        var e = await ThrowsS3loAsync(ErrorIds.PlatformNotFound,
            () => DockerDaemonSource.OpenAsync(daemon, PodmanService.MultiImage, new Platform("linux", "ppc64le"), default));
        Assert.Contains(PodmanService.OtherPlatform.ToString(), e.Message);
        Assert.Contains(Platform.Host.ToString(), e.Message);
    }

    [Fact]
    public async Task A_listed_platform_whose_image_is_not_in_storage_is_ImageNotFound_saying_so()
    {
        using var daemon = DockerDaemon.Create(podman.Host);
        var e = await ThrowsS3loAsync(ErrorIds.ImageNotFound,
            () => DockerDaemonSource.OpenAsync(daemon, PodmanService.MultiImage, PodmanService.AbsentPlatform, default));
        Assert.Contains("not in its storage", e.Message);
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), "s3lo-docker-*"));
    }

    // The source's config is that platform's, and its layers are the ones podman holds for that platform's image.
    private async Task AssertReadsImageAsync(DockerDaemonSource source, string podmanImage, Platform platform)
    {
        await using var configStream = await source.OpenBlobAsync(source.Root.Config!, default);
        using var config = await JsonDocument.ParseAsync(configStream);
        Assert.Equal(platform.Architecture, config.RootElement.GetProperty("architecture").GetString());
        var diffIds = config.RootElement.GetProperty("rootfs").GetProperty("diff_ids").EnumerateArray().Select(d => d.GetString()!).ToList();
        Assert.Equal(podman.RootFsLayers(podmanImage), diffIds);
    }

    [Fact]
    public async Task A_missing_image_is_ImageNotFound()
    {
        using var daemon = DockerDaemon.Create(podman.Host);
        await ThrowsS3loAsync(ErrorIds.ImageNotFound, () => DockerDaemonSource.OpenAsync(daemon, "localhost/absent:v1", null, default));
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task A_daemon_that_does_not_listen_is_DockerUnreachable(string kind)
    {
        var host = kind == "unix" ? "unix://" + _dir.File("no-daemon.sock") : "tcp://127.0.0.1:" + TestPorts.Free();
        using var daemon = DockerDaemon.Create(host);
        var e = await ThrowsS3loAsync(ErrorIds.DockerUnreachable, () => DockerDaemonSource.OpenAsync(daemon, PodmanService.AppImage, null, default));
        Assert.Contains(host, e.Message);
    }

    [Theory]
    [InlineData("npipe:////./pipe/docker_engine")]
    [InlineData("unix://relative.sock")]
    [InlineData("tcp://127.0.0.1:2375/path")]
    public void An_address_that_is_not_a_unix_or_tcp_host_is_InvalidDockerHost(string host)
    {
        var e = Assert.Throws<S3loException>(() => DockerDaemon.Create(host));
        Assert.Equal(ErrorIds.InvalidDockerHost, e.ErrorId);
    }

    [Fact]
    public async Task A_stored_image_saved_into_the_daemon_under_a_new_name_has_the_same_layers()
    {
        using var daemon = DockerDaemon.Create(podman.Host);
        await using var store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store"))));
        var reference = ImageReference.Create(store.Location, "app", "v1", null);
        await using (var source = await DockerDaemonSource.OpenAsync(daemon, PodmanService.AppImage, null, default))
            await Transfers.PushAsync(source, store, "app", "v1");

        TransferResult saved;
        await using (var destination = DockerDaemonDestination.Create(daemon, "localhost/copy:v1"))
        await using (var stored = await StoreImageSource.OpenAsync(store, reference, Platform.Host, default))
            saved = await ImageTransfer.CopyAsync(stored, destination, null, null, default);

        Assert.Contains("localhost/copy:v1", saved.Loaded!);
        Assert.Equal(podman.RootFsLayers(PodmanService.AppImage), podman.RootFsLayers("localhost/copy:v1"));
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), "s3lo-docker-*"));
    }

    [Fact]
    public async Task A_load_the_daemon_refuses_is_DockerLoadFailed()
    {
        using var daemon = DockerDaemon.Create(podman.Host);
        using var notAnArchive = new MemoryStream("not a tar archive"u8.ToArray());
        await ThrowsS3loAsync(ErrorIds.DockerLoadFailed, () => daemon.LoadAsync(notAnArchive, default));
    }

    // Docker, unlike podman, reports a failed load inside a 200 reply; no Docker daemon runs here, so a listener on
    // 127.0.0.1 answers with the reply Docker writes when the disk fills.
    [Fact]
    public async Task An_error_message_in_a_successful_load_reply_is_DockerLoadFailed()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        const string reply = "{\"stream\":\"Loading layer\"}\r\n{\"errorDetail\":{\"message\":\"write /var/lib/docker/tmp: no space left on device\"},\"error\":\"write /var/lib/docker/tmp: no space left on device\"}\r\n";
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            await using var stream = client.GetStream();
            await ReadRequestAsync(stream);
            var body = System.Text.Encoding.UTF8.GetBytes(reply);
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(
                $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
            await stream.WriteAsync(body);
        });
        using var daemon = DockerDaemon.Create("tcp://127.0.0.1:" + ((System.Net.IPEndPoint)listener.LocalEndpoint).Port);
        using var archive = new MemoryStream(new byte[1024]);

        var e = await ThrowsS3loAsync(ErrorIds.DockerLoadFailed, () => daemon.LoadAsync(archive, default));
        Assert.Contains("no space left on device", e.Message);
        await server;
    }

    [Fact]
    public void Docker_stream_messages_are_split_without_an_enclosing_array()
    {
        var messages = DockerDaemon.ParseMessages("{\"stream\":\"Loaded image: app:v1\\n\"}\r\n{\"errorDetail\":{\"message\":\"no space\"},\"error\":\"no space\"}\n"u8);
        Assert.Equal(2, messages.Count);
        Assert.Equal("no space", messages[1].GetProperty("error").GetString());
    }

    public void Dispose() => _dir.Dispose();

    private static async Task<byte[]> ReadStoredBlobAsync(ImageStore store, Descriptor descriptor)
    {
        await using var blob = await store.OpenBlobAsync(descriptor, default);
        using var buffer = new MemoryStream();
        await blob.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    /// <summary>Reads one HTTP request with a Content-Length body, so the reply does not race the upload.</summary>
    private static async Task ReadRequestAsync(Stream stream)
    {
        var received = new List<byte>();
        var buffer = new byte[4096];
        int headerEnd;
        while ((headerEnd = System.Text.Encoding.ASCII.GetString(received.ToArray()).IndexOf("\r\n\r\n", StringComparison.Ordinal)) < 0)
        {
            var read = await stream.ReadAsync(buffer);
            if (read == 0) throw new EndOfStreamException("The request ended inside its headers.");
            received.AddRange(buffer.AsSpan(0, read));
        }
        var headers = System.Text.Encoding.ASCII.GetString(received.ToArray(), 0, headerEnd);
        var length = int.Parse(headers.Split("\r\n").Single(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))["Content-Length:".Length..]);
        var remaining = length - (received.Count - headerEnd - 4);
        while (remaining > 0)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(0, Math.Min(buffer.Length, remaining)));
            if (read == 0) throw new EndOfStreamException("The request ended inside its body.");
            remaining -= read;
        }
    }
}
