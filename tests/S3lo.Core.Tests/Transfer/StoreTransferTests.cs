using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Tests.Gc;
using S3lo.Core.Tests.TestSupport;
using S3lo.Core.Transfer;

namespace S3lo.Core.Tests.Transfer;

/// <summary>
/// Dedup judged by what the store receives, not by what the transfer reports: each store is wrapped in a
/// <see cref="CountingObjectStore"/> and the blob keys written are compared with the blobs the destination lacked.
/// Images are umoci's v1 and v2, where v2 is v1 plus a layer (so they share v1's layer), and an in-memory index.
/// </summary>
public abstract class StoreTransferTests(ImageFixture images) : IAsyncLifetime
{
    private readonly List<ImageStore> _stores = [];

    protected abstract Task<IObjectStore> CreateObjectStoreAsync();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores) await store.DisposeAsync();
    }

    [Fact]
    public async Task An_unchanged_push_again_writes_no_blob()
    {
        var (store, counted) = await NewStoreAsync();
        await using var v1 = await ImageSources.OpenAsync(images.Layout, "v1", default);
        var blobs = v1.Root.References.ToList();

        var first = await Transfers.PushAsync(v1, store, "app", "v1");
        Assert.Equal(Digests(blobs), counted.BlobsWritten);
        Assert.Equal(blobs.Count, counted.WritesUnder(StoreLayout.BlobsPrefix));
        Assert.Equal(blobs.Sum(b => b.Size), counted.BytesUnder(StoreLayout.BlobsPrefix));
        Assert.Equal(blobs.Count, first.BlobsUploaded);

        counted.Reset();
        var again = await Transfers.PushAsync(v1, store, "app", "v1");
        Assert.Equal(0, counted.WritesUnder(StoreLayout.BlobsPrefix));
        Assert.Equal(new[] { StoreLayout.OciLayoutKey("app", "v1"), StoreLayout.ManifestKey("app", "v1") }, counted.Keys);
        Assert.Equal((0, blobs.Count, 0L), (again.BlobsUploaded, again.BlobsSkipped, again.BytesUploaded));
        Assert.Equal(first.Digest, again.Digest);
    }

    [Fact]
    public async Task An_unchanged_push_of_an_index_again_writes_no_blob_and_no_child_manifest()
    {
        var (store, counted) = await NewStoreAsync();
        var index = TestImage.Index();

        var first = await Transfers.PushAsync(index, store, "multi", "v1");
        Assert.Equal(index.Blobs.Keys.Select(d => d.ToString()).ToHashSet(), counted.BlobsWritten);
        Assert.Equal(index.Blobs.Count, counted.WritesUnder(StoreLayout.BlobsPrefix));
        Assert.Equal(index.Blobs.Count, first.BlobsUploaded);

        counted.Reset();
        var again = await Transfers.PushAsync(index, store, "multi", "v1");
        Assert.Equal(0, counted.WritesUnder(StoreLayout.BlobsPrefix));
        Assert.Equal((0, index.Blobs.Count), (again.BlobsUploaded, again.BlobsSkipped));
        Assert.Equal(index.Root.Digest, (await store.GetTagAsync("multi", "v1", default)).Manifest.Digest);
    }

    [Fact]
    public async Task A_push_of_an_image_sharing_layers_writes_only_its_new_blobs()
    {
        var (store, counted) = await NewStoreAsync();
        await using (var v1 = await ImageSources.OpenAsync(images.Layout, "v1", default))
            await Transfers.PushAsync(v1, store, "app", "v1");
        counted.Reset();

        await using var v2 = await ImageSources.OpenAsync(images.Layout, "v2", default);
        var result = await Transfers.PushAsync(v2, store, "app", "v2");

        var shared = await SharedWithV1Async(v2);
        var fresh = v2.Root.References.Where(b => !shared.Contains(b.Digest)).ToList();
        Assert.Equal(2, fresh.Count);
        Assert.Equal(Digests(fresh), counted.BlobsWritten);
        Assert.Equal(fresh.Count, counted.WritesUnder(StoreLayout.BlobsPrefix));
        Assert.Equal(fresh.Sum(b => b.Size), counted.BytesUnder(StoreLayout.BlobsPrefix));
        Assert.Equal((fresh.Count, shared.Count), (result.BlobsUploaded, result.BlobsSkipped));
    }

    [Fact]
    public async Task A_copy_to_another_store_writes_only_the_blobs_it_lacks()
    {
        var (source, _) = await NewStoreAsync();
        var (destination, counted) = await NewStoreAsync();
        foreach (var tag in new[] { "v1", "v2" })
        {
            await using var layout = await ImageSources.OpenAsync(images.Layout, tag, default);
            await Transfers.PushAsync(layout, source, "app", tag);
        }
        await new ImageCopier(source, destination).CopyAsync(Reference(source, "app", "v1"), Reference(destination, "app", "v1"), null, false, null, default);
        counted.Reset();

        var (result, _, _) = await new ImageCopier(source, destination)
            .CopyAsync(Reference(source, "app", "v2"), Reference(destination, "app", "v2"), null, false, null, default);

        await using var v2 = await ImageSources.OpenAsync(images.Layout, "v2", default);
        var shared = await SharedWithV1Async(v2);
        var fresh = v2.Root.References.Where(b => !shared.Contains(b.Digest)).ToList();
        Assert.Equal(Digests(fresh), counted.BlobsWritten);
        Assert.Equal(fresh.Count, counted.WritesUnder(StoreLayout.BlobsPrefix));
        Assert.Equal(fresh.Count, result.BlobsUploaded);
        Assert.Equal(v2.Root.Digest, (await destination.GetTagAsync("app", "v2", default)).Manifest.Digest);
    }

    [Fact]
    public async Task A_copy_within_one_store_writes_no_blob()
    {
        var (store, counted) = await NewStoreAsync();
        var index = TestImage.Index();
        await Transfers.PushAsync(index, store, "multi", "v1");
        counted.Reset();

        var (result, _, _) = await new ImageCopier(store, store)
            .CopyAsync(Reference(store, "multi", "v1"), Reference(store, "copy", "v1"), null, false, null, default);

        Assert.Equal(0, counted.WritesUnder(StoreLayout.BlobsPrefix));
        Assert.Equal(new[] { StoreLayout.OciLayoutKey("copy", "v1"), StoreLayout.ManifestKey("copy", "v1") }, counted.Keys);
        Assert.Equal((0, index.Blobs.Count, 0L), (result.BlobsUploaded, result.BlobsSkipped, result.BytesUploaded));
        Assert.Equal(index.Root.Digest, (await store.GetTagAsync("copy", "v1", default)).Manifest.Digest);
    }

    private async Task<(ImageStore Store, CountingObjectStore Counted)> NewStoreAsync()
    {
        var counted = new CountingObjectStore(await CreateObjectStoreAsync());
        var store = new ImageStore(counted);
        _stores.Add(store);
        return (store, counted);
    }

    private async Task<HashSet<Digest>> SharedWithV1Async(IImageSource v2)
    {
        await using var v1 = await ImageSources.OpenAsync(images.Layout, "v1", default);
        return v1.Root.References.Select(b => b.Digest).Intersect(v2.Root.References.Select(b => b.Digest)).ToHashSet();
    }

    private static HashSet<string> Digests(IEnumerable<Descriptor> blobs) => blobs.Select(b => b.Digest.ToString()).ToHashSet();

    private static ImageReference Reference(ImageStore store, string name, string tag) => ImageReference.Create(store.Location, name, tag, null);
}

public sealed class LocalStoreTransferTests(ImageFixture images) : StoreTransferTests(images), IClassFixture<ImageFixture>, IDisposable
{
    private readonly TempDir _root = new();

    protected override Task<IObjectStore> CreateObjectStoreAsync()
        => Task.FromResult<IObjectStore>(new LocalObjectStore(LocalStoreProvider.Location(_root.File("store-" + Guid.NewGuid().ToString("N")[..8]))));

    public void Dispose() => _root.Dispose();
}

[Collection(RgwCollection.Name)]
public sealed class S3StoreTransferTests(RgwServer server, ImageFixture images) : StoreTransferTests(images), IClassFixture<ImageFixture>
{
    protected override async Task<IObjectStore> CreateObjectStoreAsync()
        => await S3ObjectStore.OpenAsync(S3StoreProvider.Location(server.NewBucket(), server.Connection()), default);
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureStoreTransferTests(AzuriteServer server, ImageFixture images) : StoreTransferTests(images), IClassFixture<ImageFixture>
{
    protected override async Task<IObjectStore> CreateObjectStoreAsync()
        => await AzureObjectStore.OpenAsync(AzureStoreProvider.Location(server.NewContainer(), server.Connection()), server.Connection(), default);
}
