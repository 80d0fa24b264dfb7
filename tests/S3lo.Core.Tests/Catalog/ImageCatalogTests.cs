using System.Text;
using S3lo.Core.Catalog;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Local;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Catalog;

/// <summary>What a listing reads: each tag's manifest, and a config or index child only once per session.</summary>
public sealed class ImageCatalogTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public async Task A_listing_reads_each_manifest_and_each_distinct_config_once_and_a_second_listing_only_the_manifests()
    {
        var root = _dir.File("store");
        var layer = Put(root, Encoding.UTF8.GetBytes(new string('x', 512)));
        // tags 0..5; tags 0-2 share one config (arm64), tags 3-5 each have their own (amd64)
        var shared = Config(root, "arm64", "shared", layer);
        for (var i = 0; i < 6; i++)
        {
            var config = i < 3 ? shared : Config(root, "amd64", i.ToString(), layer);
            var manifest = Encoding.UTF8.GetBytes($$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{config.Digest}}","size":{{config.Size}}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{layer.Digest}}","size":{{layer.Size}}}]}""");
            var dir = Directory.CreateDirectory(Path.Combine(root, "manifests", "app", "t" + i));
            File.WriteAllBytes(Path.Combine(dir.FullName, "manifest.json"), manifest);
        }
        var counting = new CountingObjectStore(new LocalObjectStore(LocalStoreProvider.Location(root)));
        var store = new ImageStore(counting);

        var first = await ListAsync(store);
        Assert.Equal(6, first.Count);
        Assert.Equal(3, first.Count(i => i.Platforms.SequenceEqual(["linux/arm64"])));
        Assert.Equal(3, first.Count(i => i.Platforms.SequenceEqual(["linux/amd64"])));
        Assert.Equal(6, counting.ReadsUnder("manifests/").Count);
        Assert.Equal(4, counting.ReadsUnder("blobs/").Count); // one shared config, three own ones

        counting.Reset();
        var second = await ListAsync(store);
        Assert.Equal(first.Select(i => (i.Tag, string.Join(",", i.Platforms), i.Size)).OrderBy(t => t.Tag),
                     second.Select(i => (i.Tag, string.Join(",", i.Platforms), i.Size)).OrderBy(t => t.Tag));
        Assert.Equal(6, counting.ReadsUnder("manifests/").Count);
        Assert.Empty(counting.ReadsUnder("blobs/"));
    }

    private static async Task<List<ImageInfo>> ListAsync(ImageStore store)
    {
        var listed = new List<ImageInfo>();
        await foreach (var image in new ImageCatalog(store).ListAsync("", _ => true, _ => true, null, default)) listed.Add(image);
        return listed;
    }

    private static (string Digest, long Size) Config(string root, string architecture, string label, (string Digest, long Size) layer)
        => Put(root, Encoding.UTF8.GetBytes("{\"architecture\":\"" + architecture + "\",\"os\":\"linux\",\"config\":{\"Labels\":{\"n\":\"" + label
                                        + "\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + layer.Digest + "\"]}}"));

    private static (string Digest, long Size) Put(string root, byte[] bytes)
    {
        var digest = Digest.Compute(bytes);
        Directory.CreateDirectory(Path.Combine(root, "blobs", "sha256"));
        File.WriteAllBytes(Path.Combine(root, "blobs", "sha256", digest.Hex), bytes);
        return (digest.ToString(), bytes.Length);
    }

    public void Dispose() => _dir.Dispose();
}
