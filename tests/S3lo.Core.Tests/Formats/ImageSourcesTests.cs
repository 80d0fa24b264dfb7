using Xunit;
using System.Formats.Tar;
using System.Text;
using System.Text.Json.Nodes;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Tests.TestSupport;
using static S3lo.Core.Tests.TestSupport.ImageAssert;

namespace S3lo.Core.Tests.Formats;

public sealed class ImageSourcesTests(ImageFixture images) : IClassFixture<ImageFixture>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Task<IImageSource> Open(string path, string? sourceTag = null)
        => ImageSources.OpenAsync(path, sourceTag, CancellationToken.None);

    [Theory]
    [InlineData("v1", 1)]
    [InlineData("v2", 2)]
    public async Task OciLayout_opens_the_tagged_image_with_its_manifest_bytes_verbatim(string tag, int layers)
    {
        await using var source = await Open(images.Layout, tag);

        var digest = ImageFixture.ManifestDigest(images.Layout, tag);
        Assert.Equal(digest, source.Root.Digest.ToString());
        Assert.Equal(ImageFixture.BlobBytes(images.Layout, digest), source.Root.Bytes);
        Assert.Equal(layers, source.Root.Layers.Count);
        Assert.Equal(layers + 1, (await ReadAllBlobsAsync(source)).Count);
    }

    [Fact]
    public async Task OciLayout_with_several_images_and_no_tag_is_ambiguous_and_names_them()
    {
        var e = await ThrowsS3loAsync(ErrorIds.AmbiguousSourceImage, () => Open(images.Layout));
        Assert.Contains("v1", e.Message);
        Assert.Contains("v2", e.Message);
    }

    [Fact]
    public async Task An_unknown_source_tag_is_not_found_and_the_message_lists_what_exists()
    {
        var e = await ThrowsS3loAsync(ErrorIds.SourceImageNotFound, () => Open(images.Layout, "v3"));
        Assert.Contains("v1", e.Message);
        Assert.Contains("v2", e.Message);
    }

    [Fact]
    public async Task OciLayout_with_one_image_needs_no_tag()
    {
        await using var source = await Open(images.SingleLayout);
        Assert.Equal(ImageFixture.ManifestDigest(images.SingleLayout, "v1"), source.Root.Digest.ToString());
    }

    [Fact]
    public async Task OciArchive_root_is_the_manifest_skopeo_stored()
    {
        await using var source = await Open(images.OciArchive);

        var raw = Tool.Run("skopeo", "inspect", "--raw", "oci-archive:" + images.OciArchive);
        Assert.Equal(raw, Encoding.UTF8.GetString(source.Root.Bytes));
        var blobs = await ReadAllBlobsAsync(source);
        Assert.Equal(source.Root.Layers.Count + 1, blobs.Count);
    }

    [Fact]
    public async Task OciArchive_blobs_can_be_read_concurrently()
    {
        await using var source = await Open(images.OciArchive);
        var descriptors = source.Root.References.ToList();
        var streams = await Task.WhenAll(descriptors.Select(d => source.OpenBlobAsync(d, CancellationToken.None)));
        // Interleave one byte at a time from each stream: streams sharing a file position would mix their bytes.
        var copies = descriptors.Select(_ => new MemoryStream()).ToList();
        var buffer = new byte[1];
        bool progressed;
        do
        {
            progressed = false;
            for (var i = 0; i < streams.Length; i++)
                if (await streams[i].ReadAsync(buffer) == 1) { copies[i].WriteByte(buffer[0]); progressed = true; }
        } while (progressed);
        for (var i = 0; i < descriptors.Count; i++)
        {
            Assert.Equal(descriptors[i].Digest, Digest.Compute(copies[i].ToArray()));
            await streams[i].DisposeAsync();
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("app:v1")]
    [InlineData("docker.io/library/app:v1")]
    [InlineData("v1")]
    public async Task Classic_docker_archive_gets_an_oci_manifest_whose_layers_are_the_uncompressed_diff_ids(string? sourceTag)
    {
        await using var source = await Open(images.DockerArchive, sourceTag);

        var root = source.Root;
        Assert.Equal(MediaTypes.OciManifest, root.MediaType);
        Assert.Equal(MediaTypes.OciConfig, root.Config!.MediaType);
        var config = Tool.Run("skopeo", "inspect", "--config", "--raw", "docker-archive:" + images.DockerArchive);
        Assert.Equal(Digest.Compute(Encoding.UTF8.GetBytes(config)), root.Config.Digest);
        var diffIds = JsonNode.Parse(config)!["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.GetValue<string>()).ToList();
        Assert.Equal(diffIds, root.Layers.Select(l => l.Digest.ToString()));
        Assert.All(root.Layers, l => Assert.Equal(MediaTypes.OciLayer, l.MediaType));
        await ReadAllBlobsAsync(source);
    }

    [Fact]
    public async Task Classic_docker_archive_with_a_gzip_layer_describes_the_compressed_bytes()
    {
        var builder = new DockerArchiveBuilder();
        var stored = builder.AddImage(["app:v1"], "a.txt", "compressed", gzipLayer: true);
        var path = _dir.File("gzip.tar");
        builder.Write(path);

        await using var source = await Open(path);

        var layer = Assert.Single(source.Root.Layers);
        Assert.Equal(MediaTypes.OciLayerGzip, layer.MediaType);
        Assert.Equal(Digest.Compute(stored), layer.Digest);
        Assert.Equal(stored.Length, layer.Size);
        Assert.Equal(stored, await ReadBlobAsync(source, layer));
    }

    [Theory]
    [InlineData(TarEntryFormat.Pax)]
    [InlineData(TarEntryFormat.Gnu)]
    [InlineData(TarEntryFormat.Ustar)]
    public async Task Tar_members_behind_long_name_headers_are_read_from_the_right_offset(TarEntryFormat format)
    {
        var builder = new DockerArchiveBuilder { Format = format };
        var longDir = string.Join('/', Enumerable.Repeat("long-directory-name", format == TarEntryFormat.Ustar ? 6 : 12));
        var stored = builder.AddImage(["app:v1"], "a.txt", "content", layerPath: longDir + "/layer.tar");
        var path = _dir.File("long.tar");
        builder.Write(path);

        await using var source = await Open(path);

        Assert.Equal(stored, await ReadBlobAsync(source, source.Root.Layers[0]));
    }

    [Fact]
    public async Task Layers_reached_through_symlinks_as_skopeo_writes_them_are_read()
    {
        var builder = new DockerArchiveBuilder();
        var layer = DockerArchiveBuilder.LayerTar("a.txt", "linked");
        var stored = builder.AddImage(["app:v1"], "a.txt", "linked", layerPath: "layers/real.tar");
        builder.AddLink("abc/layer.tar", TarEntryType.SymbolicLink, "../layers/real.tar");
        var manifest = JsonNode.Parse(builder.ManifestJson)!;
        manifest[0]!["Layers"] = new JsonArray("abc/layer.tar");
        var path = _dir.File("links.tar");
        builder.AddFile("manifest.json", Encoding.UTF8.GetBytes(manifest.ToJsonString())).Write(path, includeManifest: false);

        await using var source = await Open(path);

        Assert.Equal(layer, stored);
        Assert.Equal(stored, await ReadBlobAsync(source, source.Root.Layers[0]));
    }

    [Fact]
    public async Task Docker_25_save_is_read_as_the_oci_layout_it_contains()
    {
        var path = _dir.File("docker25.tar");
        using (var file = File.Create(path))
        using (var tar = new TarWriter(file, TarEntryFormat.Pax))
        {
            foreach (var f in Directory.EnumerateFiles(images.SingleLayout, "*", SearchOption.AllDirectories))
                tar.WriteEntry(f, Path.GetRelativePath(images.SingleLayout, f));
            var manifest = Manifest.Parse(ImageFixture.BlobBytes(images.SingleLayout, ImageFixture.ManifestDigest(images.SingleLayout, "v1")));
            var dockerManifest = new JsonArray(new JsonObject
            {
                ["Config"] = "blobs/sha256/" + manifest.Config!.Digest.Hex,
                ["RepoTags"] = new JsonArray("app:v1"),
                ["Layers"] = new JsonArray(manifest.Layers.Select(l => (JsonNode)("blobs/sha256/" + l.Digest.Hex)).ToArray()),
            });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "manifest.json") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(dockerManifest.ToJsonString())) });
        }

        await using var source = await Open(path);

        Assert.Equal(ImageFixture.BlobBytes(images.SingleLayout, ImageFixture.ManifestDigest(images.SingleLayout, "v1")), source.Root.Bytes);
        Assert.All(source.Root.Layers, l => Assert.Equal(MediaTypes.OciLayerGzip, l.MediaType));
        await ReadAllBlobsAsync(source);
    }

    [Fact]
    public async Task An_index_entry_that_is_itself_an_index_becomes_the_root_verbatim()
    {
        var layout = _dir.File("multi");
        Tool.Run("cp", "-r", images.SingleLayout, layout);
        var child = Manifest.Parse(ImageFixture.BlobBytes(layout, ImageFixture.ManifestDigest(layout, "v1")));
        // Hand-written with unusual spacing, so that a re-serialized root would not match these bytes.
        var indexBytes = Encoding.UTF8.GetBytes(
            $$"""{ "schemaVersion": 2, "mediaType": "{{MediaTypes.OciIndex}}", "manifests": [ { "mediaType": "{{MediaTypes.OciManifest}}", "digest": "{{child.Digest}}", "size": {{child.Bytes.Length}}, "platform": { "architecture": "amd64", "os": "linux" } } ] }""");
        var indexDigest = Digest.Compute(indexBytes);
        File.WriteAllBytes(Path.Combine(layout, "blobs", "sha256", indexDigest.Hex), indexBytes);
        File.WriteAllText(Path.Combine(layout, "index.json"),
            $$$"""{"schemaVersion":2,"manifests":[{"mediaType":"{{{MediaTypes.OciIndex}}}","digest":"{{{indexDigest}}}","size":{{{indexBytes.Length}}},"annotations":{"org.opencontainers.image.ref.name":"multi"}}]}""");

        await using var source = await Open(layout, "multi");

        Assert.True(source.Root.IsIndex);
        Assert.Equal(indexBytes, source.Root.Bytes);
        Assert.Equal(child.Bytes, await ReadBlobAsync(source, source.Root.Manifests[0]));
        Assert.Equal(child.Layers.Count + 2, (await ReadAllBlobsAsync(source)).Count);
    }

    [Theory]
    [InlineData("../evil.txt")]
    [InlineData("blobs/../../evil.txt")]
    [InlineData("/etc/evil.txt")]
    [InlineData("blobs\\evil.txt")]
    public async Task An_archive_entry_that_could_leave_the_archive_is_refused_by_name(string entryName)
    {
        var builder = new DockerArchiveBuilder();
        builder.AddImage(["app:v1"], "a.txt", "a");
        builder.AddFile(entryName, [1, 2, 3]);
        var path = _dir.File("unsafe.tar");
        builder.Write(path);

        var e = await ThrowsS3loAsync(ErrorIds.UnsafeArchivePath, () => Open(path));
        Assert.Equal(S3loErrorKind.InvalidData, e.Kind);
        Assert.Contains(entryName, e.Message);
    }

    [Fact]
    public async Task A_symlink_pointing_out_of_the_archive_is_refused()
    {
        var builder = new DockerArchiveBuilder();
        builder.AddImage(["app:v1"], "a.txt", "a");
        builder.AddLink("abc/layer.tar", TarEntryType.SymbolicLink, "../../etc/passwd");
        var path = _dir.File("escape.tar");
        builder.Write(path);

        var e = await ThrowsS3loAsync(ErrorIds.UnsafeArchivePath, () => Open(path));
        Assert.Contains("abc/layer.tar", e.Message);
    }

    [Fact]
    public async Task A_truncated_archive_is_invalid_wherever_it_was_cut()
    {
        var builder = new DockerArchiveBuilder();
        builder.AddImage(["app:v1"], "a.txt", new string('x', 3000));
        var whole = _dir.File("whole.tar");
        builder.Write(whole);
        var bytes = File.ReadAllBytes(whole);
        await (await Open(whole)).DisposeAsync();

        // Past the first header (before it, the file is simply not recognisable as a tar) up to the end-of-archive marker.
        var lastDataEnd = bytes.Length - 1024;
        var cut = _dir.File("cut.tar");
        for (var length = 700; length < lastDataEnd + 512; length += 263)
        {
            File.WriteAllBytes(cut, bytes[..length]);
            await ThrowsS3loAsync(ErrorIds.InvalidArchive, () => Open(cut));
        }
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        await ThrowsS3loAsync(ErrorIds.InvalidArchive, () => Open(cut));
    }

    [Fact]
    public async Task Several_images_in_a_docker_archive_are_chosen_by_repo_tag()
    {
        var builder = new DockerArchiveBuilder();
        builder.AddImage(["app:v1"], "app.txt", "app");
        builder.AddImage(["other:v1", "other:latest"], "other.txt", "other");
        var path = _dir.File("two.tar");
        builder.Write(path);

        var ambiguous = await ThrowsS3loAsync(ErrorIds.AmbiguousSourceImage, () => Open(path));
        Assert.Contains("app:v1", ambiguous.Message);
        Assert.Contains("other:v1", ambiguous.Message);
        await ThrowsS3loAsync(ErrorIds.AmbiguousSourceImage, () => Open(path, "v1"));
        await ThrowsS3loAsync(ErrorIds.SourceImageNotFound, () => Open(path, "app:v2"));

        await using var other = await Open(path, "other:v1");
        await using var latest = await Open(path, "latest");
        await using var app = await Open(path, "app:v1");
        Assert.Equal(other.Root.Digest, latest.Root.Digest);
        Assert.NotEqual(app.Root.Digest, other.Root.Digest);
        var layer = await ReadBlobAsync(other, other.Root.Layers[0]);
        Assert.Equal(DockerArchiveBuilder.LayerTar("other.txt", "other"), layer);
    }

    [Fact]
    public async Task A_layer_listed_but_absent_from_a_docker_archive_is_a_missing_blob()
    {
        var builder = new DockerArchiveBuilder();
        builder.AddImage(["app:v1"], "a.txt", "a", layerPath: "abc/layer.tar");
        var manifest = JsonNode.Parse(builder.ManifestJson)!;
        manifest[0]!["Layers"] = new JsonArray("def/layer.tar");
        var path = _dir.File("missing.tar");
        builder.AddFile("manifest.json", Encoding.UTF8.GetBytes(manifest.ToJsonString())).Write(path, includeManifest: false);

        var e = await ThrowsS3loAsync(ErrorIds.BlobNotFound, () => Open(path));
        Assert.Contains("def/layer.tar", e.Message);
    }

    [Fact]
    public async Task A_blob_missing_from_an_oci_layout_is_reported_when_it_is_opened()
    {
        var layout = _dir.File("incomplete");
        Tool.Run("cp", "-r", images.SingleLayout, layout);
        await using var source = await Open(layout);
        var layer = source.Root.Layers[0];
        File.Delete(Path.Combine(layout, "blobs", "sha256", layer.Digest.Hex));

        var e = await ThrowsS3loAsync(ErrorIds.BlobNotFound, () => source.OpenBlobAsync(layer, CancellationToken.None));
        Assert.Contains(layer.Digest.ToString(), e.Message);
    }

    [Fact]
    public async Task A_missing_path_is_source_not_found()
        => await ThrowsS3loAsync(ErrorIds.SourceNotFound, () => Open(_dir.File("nothing-here.tar")));

    [Fact]
    public async Task Files_and_directories_that_hold_no_image_are_unsupported()
    {
        var text = _dir.File("notes.txt");
        File.WriteAllText(text, string.Join('\n', Enumerable.Repeat("not a tar archive", 100)));
        await ThrowsS3loAsync(ErrorIds.UnsupportedSource, () => Open(text));

        var gzip = _dir.File("image.tar.gz");
        File.WriteAllBytes(gzip, DockerArchiveBuilder.Gzip(File.ReadAllBytes(images.DockerArchive)));
        await ThrowsS3loAsync(ErrorIds.UnsupportedSource, () => Open(gzip));

        var plainTar = _dir.File("plain.tar");
        File.WriteAllBytes(plainTar, DockerArchiveBuilder.LayerTar("readme.txt", "hi"));
        await ThrowsS3loAsync(ErrorIds.UnsupportedSource, () => Open(plainTar));

        var emptyDir = _dir.File("empty");
        Directory.CreateDirectory(emptyDir);
        await ThrowsS3loAsync(ErrorIds.UnsupportedSource, () => Open(emptyDir));
    }
}
