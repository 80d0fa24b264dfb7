using System.Collections.Concurrent;
using S3lo.Core.Catalog;
using S3lo.Core.Diagnostics;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Tests.Gc;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Catalog;

/// <summary>
/// A listing from a remote store reads one object per tag: S3lo stores what the listing shows beyond the manifest (an
/// image's platform, an index's size) as metadata on the manifest.json it publishes. Tags written without it (by the Go
/// s3lo, or an older S3lo), or with metadata of another manifest, are listed from their configs and children as before.
/// The requests are counted as sent (the request trace, which sees every page of a listing) and by key (the counting store).
/// </summary>
public abstract class ListingMetadataTests : IAsyncLifetime
{
    private static readonly (string Architecture, string? Variant)[] Platforms =
        [("amd64", null), ("arm64", "v8"), ("arm", "v7"), ("s390x", null), ("ppc64le", null)];

    private CountingObjectStore _counting = null!;
    private ImageStore _store = null!;

    protected abstract Task<IObjectStore> OpenAsync();

    public async Task InitializeAsync()
    {
        _counting = new CountingObjectStore(await OpenAsync());
        _store = new ImageStore(_counting);
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task A_listing_of_pushed_images_reads_one_object_per_tag_and_shows_each_platform_and_size()
    {
        var images = Platforms.Select(p => (Tag: $"{p.Architecture}{p.Variant}", Image: TestImage.Single(p.Architecture, p.Variant),
            Platform: p.Variant is null ? $"linux/{p.Architecture}" : $"linux/{p.Architecture}/{p.Variant}")).ToList();
        foreach (var (tag, image, _) in images) await Transfers.PushAsync(image, _store, "app", tag);
        var index = TestImage.Index();
        await Transfers.PushAsync(index, _store, "multi", "v1");
        var keys = 0;
        await foreach (var _ in _store.Objects.ListAsync(StoreLayout.ManifestsPrefix, default)) keys++;
        _counting.Reset();

        var (listed, requests) = await ListAsync();

        foreach (var (tag, image, platform) in images)
        {
            var info = Assert.Single(listed, i => i.Name == "app" && i.Tag == tag);
            Assert.Equal([platform], info.Platforms);
            Assert.Equal(image.Root.Bytes.Length + image.Root.ContentSize, info.Size);
        }
        var multi = Assert.Single(listed, i => i.Name == "multi");
        Assert.Equal(["linux/amd64", "linux/arm64"], multi.Platforms);
        Assert.Equal(index.Root.Bytes.Length + index.ImageManifests.Sum(m => m.Bytes.Length + m.ContentSize), multi.Size);
        var tags = images.Count + 1;
        Assert.Equal(tags, _counting.ReadsUnder(StoreLayout.ManifestsPrefix).Count);
        Assert.Empty(_counting.ReadsUnder(StoreLayout.BlobsPrefix));
        // one request per 1,000 keys listed and one per tag; +1: some servers answer a full last page as truncated
        Assert.InRange(requests, 1 + tags, (keys + 999) / 1000 + tags + 1);
    }

    [Fact]
    public async Task A_tag_written_without_metadata_lists_the_platform_its_config_declares()
    {
        var image = TestImage.Single("arm64", "v8");
        await image.StoreBlobsAsync(_store);
        // manifest.json written as the Go s3lo writes it: the bytes alone
        await _store.Objects.PutBytesAsync(StoreLayout.ManifestKey("app", "v1"), image.Root.Bytes, ObjectClass.Metadata, default);
        _counting.Reset();

        var (listed, _) = await ListAsync();

        Assert.Equal(["linux/arm64/v8"], Assert.Single(listed).Platforms);
        Assert.Equal([StoreLayout.BlobKey(image.Root.Config!.Digest)], _counting.ReadsUnder(StoreLayout.BlobsPrefix));
    }

    [Fact]
    public async Task Metadata_computed_for_another_manifest_is_ignored_and_the_tag_is_read_from_its_config_and_children()
    {
        var amd64 = TestImage.Single("amd64");
        var arm64 = TestImage.Single("arm64");
        var index = TestImage.Index();
        await Transfers.PushAsync(amd64, _store, "app", "amd64");
        await Transfers.PushAsync(index, _store, "multi", "v1");
        var amd64Metadata = (await _store.Objects.GetBytesAsync(StoreLayout.ManifestKey("app", "amd64"), Manifest.MaxBytes, default))!.Metadata;
        var indexMetadata = (await _store.Objects.GetBytesAsync(StoreLayout.ManifestKey("multi", "v1"), Manifest.MaxBytes, default))!.Metadata;
        Assert.NotEmpty(amd64Metadata);
        Assert.NotEmpty(indexMetadata);
        // The arm64 image's manifest, and an index of other bytes, each carrying the metadata of a manifest pushed before.
        await arm64.StoreBlobsAsync(_store);
        await _store.Objects.PutBytesAsync(StoreLayout.ManifestKey("app", "arm64"), arm64.Root.Bytes, ObjectClass.Metadata, null, amd64Metadata, default);
        var otherIndex = Manifest.Parse([.. index.Root.Bytes, (byte)'\n']);
        var falseSize = new Dictionary<string, string>(indexMetadata) { ["s3losize"] = "1" };
        await _store.Objects.PutBytesAsync(StoreLayout.ManifestKey("multi", "v2"), otherIndex.Bytes, ObjectClass.Metadata, null, falseSize, default);
        _counting.Reset();

        var (listed, _) = await ListAsync();

        Assert.Equal(["linux/arm64"], Assert.Single(listed, i => i.Tag == "arm64").Platforms);
        Assert.Equal(["linux/amd64"], Assert.Single(listed, i => i.Tag == "amd64").Platforms);
        var children = index.ImageManifests.Sum(m => m.Bytes.Length + m.ContentSize);
        Assert.Equal(otherIndex.Bytes.Length + children, Assert.Single(listed, i => i.Tag == "v2").Size);
        Assert.Equal(index.Root.Bytes.Length + children, Assert.Single(listed, i => i.Tag == "v1").Size);
        Assert.Equal(StoreLayout.BlobKey(arm64.Root.Config!.Digest), Assert.Single(_counting.ReadsUnder(StoreLayout.BlobsPrefix),
            k => k.Contains(arm64.Root.Config!.Digest.Hex, StringComparison.Ordinal)));
        Assert.Equal(1 + index.Root.Manifests.Count, _counting.ReadsUnder(StoreLayout.BlobsPrefix).Count);
    }

    /// <summary>The whole listing, and the requests it sent.</summary>
    private async Task<(List<ImageInfo> Listed, int Requests)> ListAsync()
    {
        var sink = new CountingSink();
        var listed = new List<ImageInfo>();
        using (RequestTrace.Begin(sink))
        {
            await foreach (var image in new ImageCatalog(_store).ListAsync("", _ => true, _ => true, null, default)) listed.Add(image);
        }
        return (listed, sink.Requests.Count);
    }

    private sealed class CountingSink : IRequestTraceSink
    {
        public ConcurrentQueue<RequestRecord> Requests { get; } = new();
        public bool DebugEnabled => false;
        public void Request(RequestRecord request) => Requests.Enqueue(request);
        public void Debug(string source, string message) { }
    }
}

[Collection(RgwCollection.Name)]
public sealed class S3ListingMetadataTests(RgwServer server) : ListingMetadataTests
{
    protected override async Task<IObjectStore> OpenAsync() => await server.NewStoreAsync();
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureListingMetadataTests(AzuriteServer server) : ListingMetadataTests
{
    protected override async Task<IObjectStore> OpenAsync() => await server.NewStoreAsync();
}
