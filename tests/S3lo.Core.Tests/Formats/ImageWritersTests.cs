using System.Text.Json.Nodes;
using S3lo.Core.Formats;
using S3lo.Core.IO;
using S3lo.Core.Oci;
using S3lo.Core.Tests.TestSupport;
using Xunit;
using static S3lo.Core.Tests.TestSupport.ImageAssert;

namespace S3lo.Core.Tests.Formats;

public sealed class ImageWritersTests(ImageFixture images) : IClassFixture<ImageFixture>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<ImageFormat, bool> Formats()
    {
        var data = new TheoryData<ImageFormat, bool>();
        foreach (var format in Enum.GetValues<ImageFormat>())
        {
            data.Add(format, true);
            data.Add(format, false);
        }
        return data;
    }

    /// <param name="gzipLayers">True: from the umoci layout (gzip layers); false: from skopeo's classic docker archive (plain tar layers).</param>
    [Theory]
    [MemberData(nameof(Formats))]
    public async Task A_saved_image_is_readable_by_skopeo_and_keeps_its_files(ImageFormat format, bool gzipLayers)
    {
        var output = _dir.File(format == ImageFormat.OciLayout ? "out" : "out.tar");
        await using var source = await ImageSources.OpenAsync(gzipLayers ? images.SingleLayout : images.DockerArchive, null, CancellationToken.None);
        await using (var writer = ImageWriters.Create(format, output, "app:v1.4", overwrite: false))
            await CopyAsync(source, writer);

        var transport = format switch
        {
            ImageFormat.OciLayout => "oci:" + output + ":v1.4",
            ImageFormat.OciArchive => "oci-archive:" + output,
            _ => "docker-archive:" + output,
        };
        var inspected = JsonNode.Parse(Tool.Run("skopeo", "inspect", transport))!;
        // skopeo describes a docker archive's layers by their uncompressed digests, whatever the stored form.
        var expectedLayers = format == ImageFormat.DockerArchive
            ? JsonNode.Parse(await ReadBlobAsync(source, source.Root.Config!))!["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.GetValue<string>())
            : source.Root.Layers.Select(l => l.Digest.ToString());
        Assert.Equal(expectedLayers, inspected["Layers"]!.AsArray().Select(l => l!.GetValue<string>()));
        if (format != ImageFormat.DockerArchive)
            Assert.Equal(source.Root.Bytes, System.Text.Encoding.UTF8.GetBytes(Tool.Run("skopeo", "inspect", "--raw", transport)));

        var copy = _dir.File("copy");
        Tool.Run("skopeo", "copy", transport, "oci:" + copy + ":check");
        var bundle = _dir.File("bundle");
        Tool.Run("umoci", "unpack", "--rootless", "--image", copy + ":check", bundle);
        Assert.Equal(ImageFixture.HelloText, File.ReadAllText(Path.Combine(bundle, "rootfs", "hello.txt")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, ".s3lo-save-*"));
    }

    [Theory]
    [InlineData(ImageFormat.OciLayout)]
    [InlineData(ImageFormat.OciArchive)]
    [InlineData(ImageFormat.DockerArchive)]
    public async Task A_saved_image_opens_again_by_its_name_with_the_same_manifest(ImageFormat format)
    {
        var output = _dir.File(format == ImageFormat.OciLayout ? "out" : "out.tar");
        await using var source = await ImageSources.OpenAsync(images.SingleLayout, null, CancellationToken.None);
        await using (var writer = ImageWriters.Create(format, output, "app:v1.4", overwrite: false))
            await CopyAsync(source, writer);

        await using var reopened = await ImageSources.OpenAsync(output, format == ImageFormat.DockerArchive ? "app:v1.4" : "v1.4", CancellationToken.None);
        Assert.Equal(source.Root.Bytes, reopened.Root.Bytes);
        Assert.Equal(source.Root.Layers.Count + 1, (await ReadAllBlobsAsync(reopened)).Count);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Podman_loads_a_saved_docker_archive_under_its_name(bool gzipLayers)
    {
        var output = _dir.File("docker.tar");
        await using var source = await ImageSources.OpenAsync(gzipLayers ? images.SingleLayout : images.DockerArchive, null, CancellationToken.None);
        Assert.Equal(gzipLayers ? MediaTypes.OciLayerGzip : MediaTypes.OciLayer, source.Root.Layers[0].MediaType);
        await using (var writer = ImageWriters.Create(ImageFormat.DockerArchive, output, "app:v1.4", overwrite: false))
            await CopyAsync(source, writer);

        string[] podman = ["--root", _dir.File("podman-root"), "--runroot", _dir.File("podman-run"), "--storage-driver", "vfs"];
        var loaded = Tool.Run("podman", [.. podman, "load", "-i", output]);
        Assert.Contains("app:v1.4", loaded);
        var container = Tool.Run("podman", [.. podman, "create", "app:v1.4", "/bin/true"]).Trim();
        var exported = _dir.File("rootfs.tar");
        Tool.Run("podman", [.. podman, "export", "-o", exported, container]);
        Assert.Contains("hello.txt", Tool.Run("tar", "tf", exported));
        Assert.Equal(ImageFixture.HelloText, Tool.Run("tar", "xOf", exported, "hello.txt"));
    }

    [Theory]
    [InlineData(ImageFormat.OciLayout)]
    [InlineData(ImageFormat.OciArchive)]
    [InlineData(ImageFormat.DockerArchive)]
    public async Task An_existing_output_is_refused_without_overwrite_and_left_untouched(ImageFormat format)
    {
        var output = _dir.File("existing");
        if (format == ImageFormat.OciLayout)
        {
            Directory.CreateDirectory(output);
            File.WriteAllText(Path.Combine(output, "oci-layout"), "keep me");
        }
        else
        {
            File.WriteAllText(output, "keep me");
        }

        var e = Assert.Throws<S3loException>(() => ImageWriters.Create(format, output, "app:v1", overwrite: false));

        Assert.Equal(ErrorIds.OutputExists, e.ErrorId);
        Assert.Equal("keep me", File.ReadAllText(format == ImageFormat.OciLayout ? Path.Combine(output, "oci-layout") : output));
        Assert.Single(Directory.EnumerateFileSystemEntries(_dir.Path));
    }

    [Theory]
    [InlineData(ImageFormat.OciLayout)]
    [InlineData(ImageFormat.OciArchive)]
    [InlineData(ImageFormat.DockerArchive)]
    public async Task Overwrite_replaces_the_output_only_when_the_save_completes(ImageFormat format)
    {
        var output = _dir.File("existing");
        if (format == ImageFormat.OciLayout)
        {
            await using var first = ImageWriters.Create(format, output, "old:v0", overwrite: false);
            await using var older = await ImageSources.OpenAsync(images.DockerArchive, null, CancellationToken.None);
            await CopyAsync(older, first);
        }
        else
        {
            File.WriteAllText(output, "old");
        }
        var before = Snapshot(output);
        await using var source = await ImageSources.OpenAsync(images.SingleLayout, null, CancellationToken.None);

        await using (var writer = ImageWriters.Create(format, output, "app:v1", overwrite: true))
        {
            foreach (var blob in source.Root.References)
                await writer.WriteBlobAsync(blob, await source.OpenBlobAsync(blob, CancellationToken.None), CancellationToken.None);
            Assert.Equal(before, Snapshot(output));
            await writer.CompleteAsync(source.Root, CancellationToken.None);
        }

        await using var saved = await ImageSources.OpenAsync(output, null, CancellationToken.None);
        Assert.Equal(source.Root.Bytes, saved.Root.Bytes);
        Assert.Single(Directory.EnumerateFileSystemEntries(_dir.Path));
    }

    [Theory]
    [InlineData(ImageFormat.OciLayout)]
    [InlineData(ImageFormat.OciArchive)]
    [InlineData(ImageFormat.DockerArchive)]
    public async Task A_save_that_fails_or_is_abandoned_leaves_nothing(ImageFormat format)
    {
        var output = _dir.File("out");
        await using var source = await ImageSources.OpenAsync(images.SingleLayout, null, CancellationToken.None);
        var config = source.Root.Config!;
        var layer = source.Root.Layers[0];

        await using (var writer = ImageWriters.Create(format, output, "app:v1", overwrite: false))
        {
            await writer.WriteBlobAsync(config, await source.OpenBlobAsync(config, CancellationToken.None), CancellationToken.None);
            // A layer whose bytes do not match its digest, as a corrupted download would give.
            var wrong = new VerifyingReadStream(new MemoryStream(new byte[layer.Size]), layer.Digest, layer.Size, "layer");
            await ThrowsS3loAsync(ErrorIds.DigestMismatch, () => writer.WriteBlobAsync(layer, wrong, CancellationToken.None));
            Assert.NotEmpty(Directory.EnumerateFileSystemEntries(_dir.Path, ".s3lo-save-*"));
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path));
    }

    [Theory]
    [InlineData(ImageFormat.OciArchive)]
    [InlineData(ImageFormat.DockerArchive)]
    public async Task A_failed_blob_write_can_be_retried_without_corrupting_the_archive(ImageFormat format)
    {
        var output = _dir.File("out.tar");
        await using var source = await ImageSources.OpenAsync(images.SingleLayout, null, CancellationToken.None);
        var layer = source.Root.Layers[0];

        await using (var writer = ImageWriters.Create(format, output, "app:v1", overwrite: false))
        {
            var truncated = new MemoryStream((await ReadBlobAsync(source, layer))[..(int)(layer.Size / 2)]);
            await ThrowsS3loAsync(ErrorIds.SizeMismatch, () => writer.WriteBlobAsync(layer, truncated, CancellationToken.None));
            await CopyAsync(source, writer);
        }

        var transport = (format == ImageFormat.OciArchive ? "oci-archive:" : "docker-archive:") + output;
        Tool.Run("skopeo", "copy", transport, "oci:" + _dir.File("copy") + ":check");
        await using var saved = await ImageSources.OpenAsync(output, null, CancellationToken.None);
        await ReadAllBlobsAsync(saved);
    }

    [Fact]
    public async Task Completing_without_every_referenced_blob_fails_and_leaves_nothing()
    {
        var output = _dir.File("out.tar");
        await using var source = await ImageSources.OpenAsync(images.SingleLayout, null, CancellationToken.None);
        var config = source.Root.Config!;

        await using (var writer = ImageWriters.Create(ImageFormat.DockerArchive, output, "app:v1", overwrite: false))
        {
            await writer.WriteBlobAsync(config, await source.OpenBlobAsync(config, CancellationToken.None), CancellationToken.None);
            var e = await ThrowsS3loAsync(ErrorIds.BlobNotFound, () => writer.CompleteAsync(source.Root, CancellationToken.None));
            Assert.Contains(source.Root.Layers[0].Digest.ToString(), e.Message);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void Overwrite_does_not_replace_a_directory_that_is_not_an_image_layout()
    {
        var output = _dir.File("documents");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "thesis.txt"), "precious");

        var e = Assert.Throws<S3loException>(() => ImageWriters.Create(ImageFormat.OciLayout, output, null, overwrite: true));

        Assert.Equal(ErrorIds.OutputExists, e.ErrorId);
        Assert.Equal("precious", File.ReadAllText(Path.Combine(output, "thesis.txt")));
    }

    [Fact]
    public async Task Oci_outputs_name_the_image_by_its_tag_and_docker_archives_by_the_full_name()
    {
        await using var source = await ImageSources.OpenAsync(images.SingleLayout, null, CancellationToken.None);
        var layout = _dir.File("layout");
        await using (var writer = ImageWriters.Create(ImageFormat.OciLayout, layout, "org/app:v1.4", overwrite: false))
            await CopyAsync(source, writer);
        var docker = _dir.File("docker.tar");
        await using (var writer = ImageWriters.Create(ImageFormat.DockerArchive, docker, "org/app:v1.4", overwrite: false))
            await CopyAsync(source, writer);

        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))!;
        var entry = Assert.Single(index["manifests"]!.AsArray())!;
        Assert.Equal("v1.4", (string?)entry["annotations"]!["org.opencontainers.image.ref.name"]);
        Assert.Equal(source.Root.Digest.ToString(), (string?)entry["digest"]);
        Assert.Equal(source.Root.Bytes.Length, (long)entry["size"]!);
        Assert.Equal(MediaTypes.OciManifest, (string?)entry["mediaType"]);

        var manifestJson = JsonNode.Parse(Tool.Run("tar", "xOf", docker, "manifest.json"))!;
        Assert.Equal("org/app:v1.4", (string?)manifestJson[0]!["RepoTags"]![0]);
        Assert.Equal("blobs/sha256/" + source.Root.Config!.Digest.Hex, (string?)manifestJson[0]!["Config"]);
    }

    private static string Snapshot(string path)
        => File.Exists(path)
            ? Convert.ToHexString(File.ReadAllBytes(path))
            : string.Join('\n', Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order()
                .Select(f => f + ":" + Convert.ToHexString(File.ReadAllBytes(f))));
}
