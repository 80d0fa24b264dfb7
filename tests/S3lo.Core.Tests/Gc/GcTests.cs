using System.Text;
using Azure.Storage.Blobs.Specialized;
using S3lo.Core.Catalog;
using S3lo.Core.Gc;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Azure;
using S3lo.Core.Storage.Local;
using S3lo.Core.Tests.TestSupport;
using S3lo.Core.Transfer;

namespace S3lo.Core.Tests.Gc;

/// <summary>Garbage collection, run against the local and the S3 store alike.</summary>
public abstract class GcTests : IAsyncLifetime
{
    protected ImageStore Store { get; private set; } = null!;

    protected abstract Task<ImageStore> CreateStoreAsync();

    /// <summary>Makes everything now in the store older than <see cref="AgedGrace"/> by the store's clock.</summary>
    protected abstract Task AgeAsync();

    protected abstract TimeSpan AgedGrace { get; }

    /// <summary>Leaves what a push killed mid-blob leaves (a temporary file, a multipart upload, staged blocks); returns its key.</summary>
    protected abstract Task<string> LeaveUnfinishedWriteAsync();

    protected abstract int RaceRounds { get; }

    /// <summary>How far apart the racing push and collection start, at most: long enough for the collection to see the push's touches as old.</summary>
    protected abstract int RaceJitterMilliseconds { get; }

    public async Task InitializeAsync() => Store = await CreateStoreAsync();

    public async Task DisposeAsync() => await Store.DisposeAsync();

    private GarbageCollector Collector => new(Store);

    [Fact]
    public async Task GcKeepsEverythingReachableFromTagsThroughAnIndex()
    {
        var single = TestImage.Single();
        var multi = TestImage.Index();
        await single.PublishAsync(Store, "app", "v1");
        await multi.PublishAsync(Store, "org/multi", "latest");
        var garbage = await PutGarbageAsync(3);
        await AgeAsync();

        var swept = await CollectAsync(new GcOptions { GracePeriod = AgedGrace });

        Assert.Equal(garbage.Keys.Order(), swept.Select(s => s.Digest).Order());
        Assert.All(swept, s => Assert.True(s.Removed));
        Assert.Equal(single.Blobs.Keys.Concat(multi.Blobs.Keys).Select(StoreLayout.BlobKey).Order(), (await BlobKeysAsync()).Order());
        await AssertCompleteAsync("app", "v1");
        await AssertCompleteAsync("org/multi", "latest");
    }

    [Fact]
    public async Task GcRemovesTheBlobsOfADeletedTagWithTheirSizes()
    {
        var kept = TestImage.Index();
        var deleted = TestImage.Index();
        await kept.PublishAsync(Store, "app", "v1");
        await deleted.PublishAsync(Store, "app", "v2");
        await Store.DeleteTagAsync("app", "v2", default);
        await AgeAsync();

        var swept = await CollectAsync(new GcOptions { GracePeriod = AgedGrace, DeleteBatchSize = 2 });

        Assert.Equal(deleted.Blobs.Keys.Select(d => d.ToString()).Order(), swept.Select(s => s.Digest).Order());
        Assert.All(swept, s => Assert.Equal(deleted.Blobs[Digest.Parse(s.Digest)].Length, s.Size));
        Assert.All(swept, s => Assert.Equal(StoreLayout.BlobKey(Digest.Parse(s.Digest)), s.Key));
        Assert.Equal(kept.Blobs.Keys.Select(StoreLayout.BlobKey).Order(), (await BlobKeysAsync()).Order());
        await AssertCompleteAsync("app", "v1");
    }

    [Fact]
    public async Task GcKeepsUnreferencedBlobsYoungerThanTheGracePeriod()
    {
        await TestImage.Single().PublishAsync(Store, "app", "v1");
        await PutGarbageAsync(2);
        var before = await BlobKeysAsync();

        Assert.Empty(await CollectAsync(new GcOptions { GracePeriod = TimeSpan.FromHours(1) }));
        Assert.Equal(before, await BlobKeysAsync());
    }

    [Fact]
    public async Task WhatIfDeletesNothingAndReportsWhatWouldGo()
    {
        await TestImage.Index().PublishAsync(Store, "app", "v1");
        var garbage = await PutGarbageAsync(3);
        await AgeAsync();
        var before = await BlobKeysAsync();

        var wouldGo = await CollectAsync(new GcOptions { GracePeriod = AgedGrace, WhatIf = true });

        Assert.Equal(before, await BlobKeysAsync());
        Assert.All(wouldGo, s => Assert.False(s.Removed));
        Assert.Equal(garbage.Select(g => (g.Key, (long)g.Value.Length)).Order(), wouldGo.Select(s => (s.Digest, s.Size)).Order());
        var gone = await CollectAsync(new GcOptions { GracePeriod = AgedGrace });
        // LastModified is left out: S3 lists it to the millisecond but a HEAD says whole seconds.
        Assert.Equal(wouldGo.Select(s => (s.Key, s.Size)).Order(), gone.Select(s => (s.Key, s.Size)).Order());
        Assert.All(gone, s => Assert.True(s.Removed));
    }

    [Fact]
    public async Task ACorruptManifestStopsTheCollectionBeforeAnythingIsDeleted()
    {
        await TestImage.Single().PublishAsync(Store, "app", "v1");
        await Store.Objects.PutBytesAsync(StoreLayout.ManifestKey("org/broken", "v2"), "{\"schemaVersion\":2,"u8.ToArray(), ObjectClass.Metadata, default);
        await PutGarbageAsync(2);
        await AgeAsync();
        var before = await BlobKeysAsync();

        var e = await ImageAssert.ThrowsS3loAsync(ErrorIds.InvalidManifest, () => CollectAsync(new GcOptions { GracePeriod = AgedGrace }));

        Assert.Equal("org/broken:v2", e.Target);
        Assert.Contains("org/broken:v2", e.Message);
        Assert.Equal(before, await BlobKeysAsync());
    }

    [Fact]
    public async Task AMissingIndexChildStopsTheCollectionBeforeAnythingIsDeleted()
    {
        var image = TestImage.Index();
        await image.PublishAsync(Store, "app", "v1");
        await Store.Objects.DeleteAsync([StoreLayout.BlobKey(image.Root.Manifests[1].Digest)], default);
        await PutGarbageAsync(2);
        await AgeAsync();
        var before = await BlobKeysAsync();

        var e = await ImageAssert.ThrowsS3loAsync(ErrorIds.BlobNotFound, () => CollectAsync(new GcOptions { GracePeriod = AgedGrace }));

        Assert.Equal("app:v1", e.Target);
        Assert.Equal(before, await BlobKeysAsync());
    }

    [Fact]
    public async Task AChunkedLayerKeepsItsRecipeIndexAndChunksWhileReferenced()
    {
        var image = TestImage.Single();
        await image.PublishAsync(Store, "app", "v1");
        var layer = image.Root.Layers[0].Digest;
        var keptChunk = Digest.Compute(TestImage.RandomBytes(10));
        var orphanLayer = Digest.Compute(TestImage.RandomBytes(10));
        var orphanChunk = Digest.Compute(TestImage.RandomBytes(10));
        await PutRecipeAsync(layer, keptChunk);
        await PutRecipeAsync(orphanLayer, orphanChunk);
        await AgeAsync();

        var swept = await CollectAsync(new GcOptions { GracePeriod = AgedGrace });

        Assert.Equal(new[] { StoreLayout.ChunksPrefix + orphanChunk.Hex, StoreLayout.IndexesPrefix + orphanLayer.Hex, StoreLayout.RecipesPrefix + orphanLayer.Hex },
            swept.Select(s => s.Key).Order(StringComparer.Ordinal));
        foreach (var key in new[] { StoreLayout.RecipeKey(layer), StoreLayout.IndexesPrefix + layer.Hex, StoreLayout.ChunksPrefix + keptChunk.Hex })
            Assert.NotNull(await Store.Objects.HeadAsync(key, default));
    }

    /// <summary>
    /// A push that reuses blobs a collection is about to delete (unreferenced, older than a zero grace
    /// period) races that collection; its new top layer uploads slowly, so collections regularly run
    /// between its dedup check and its publish. Whatever the interleaving, every tag must stay whole.
    /// </summary>
    [Fact]
    public async Task APushReusingBlobsSurvivesAConcurrentCollection()
    {
        var restored = 0;
        var removed = 0;
        for (var round = 0; round < RaceRounds; round++)
        {
            var image = TestImage.Index();
            var newLayer = image.ImageManifests.First().Layers[^1].Digest;
            await image.StoreBlobsAsync(Store, d => d != newLayer);
            await AgeAsync();
            image.SlowBlob = newLayer;
            image.SlowDelay = TimeSpan.FromMilliseconds(Random.Shared.Next(0, RaceJitterMilliseconds));

            var push = Task.Run(() => Transfers.PushAsync(image, Store, "race", $"r{round}"));
            var gcDelay = Random.Shared.Next(0, RaceJitterMilliseconds);
            var gc = Task.Run(async () =>
            {
                await Task.Delay(gcDelay);
                return await CollectAsync(new GcOptions { GracePeriod = TimeSpan.Zero });
            });
            var result = await push;
            removed += (await gc).Count;
            restored += result.BlobsRestored;

            for (var done = 0; done <= round; done++) await AssertCompleteAsync("race", $"r{done}");
        }
        // Not asserted, since timing decides it, but it shows whether the rounds raced at all.
        Console.WriteLine($"{GetType().Name}: {RaceRounds} rounds, {removed} blobs collected while pushes ran, {restored} restored by the pushes");
    }

    /// <summary>
    /// Another interleaving of that race, forced: a collection deletes the reused config (and an index's reused child
    /// manifest) after the push found them and before it publishes. The tag is still published with what listings show of
    /// it, taken from the image itself, and the push then stores what was deleted again.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AReusedConfigOrChildDeletedBeforeThePublishIsRestoredAndTheTagKeepsItsListing(bool index)
    {
        var image = index ? TestImage.Index() : TestImage.Single();
        var first = image.ImageManifests.First();
        await image.StoreBlobsAsync(Store, d => d != first.Layers[^1].Digest);
        await AgeAsync();
        // Deleted once the push has checked the last of them (an index's children are checked after every blob).
        var deleted = index ? [first.Config!.Digest, first.Digest] : new[] { first.Config!.Digest };
        var collected = 0;
        var paused = new PausingObjectStore(Store.Objects)
        {
            AfterTouch = key => key == StoreLayout.BlobKey(deleted[^1]) && Interlocked.Exchange(ref collected, 1) == 0
                ? Store.Objects.DeleteAsync(deleted.Select(StoreLayout.BlobKey).ToList(), default)
                : Task.CompletedTask,
        };

        var result = await Transfers.PushAsync(image, new ImageStore(paused), "race", "r1");

        Assert.Equal(deleted.Length, result.BlobsRestored);
        await AssertCompleteAsync("race", "r1");
        var tag = await Store.GetTagAsync("race", "r1", default);
        string[] platforms = index ? ["linux/amd64", "linux/arm64"] : ["linux/amd64"];
        if (Store.Objects is not LocalObjectStore) Assert.Equal(platforms, ListingSummary.FromMetadata(tag.Manifest, tag.Metadata)?.Platforms);
        Assert.Equal(platforms, (await new ImageCatalog(Store).DescribeAsync(tag, default)).Platforms);
    }

    /// <summary>
    /// The interleaving the race above only hits by chance, forced: the collection has judged the reused blobs old and is
    /// held before its delete while a whole push (touch, upload, publish, touch again) runs; then the delete goes on. The
    /// push found every blob present, so only a delete conditional on the judged version can keep its tag whole.
    /// </summary>
    [Fact]
    public async Task APushBetweenTheCollectorsJudgementAndItsDeleteKeepsItsBlobs()
    {
        var image = TestImage.Index();
        await image.StoreBlobsAsync(Store);
        await AgeAsync();
        var paused = new PausingObjectStore(Store.Objects);
        var judged = new TaskCompletionSource<IReadOnlyCollection<ObjectInfo>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        paused.BeforeDeleteIfUnchanged = async candidates =>
        {
            judged.TrySetResult(candidates);
            await release.Task;
        };
        var collection = Task.Run(async () =>
        {
            var swept = new List<SweptBlob>();
            await foreach (var blob in new GarbageCollector(new ImageStore(paused)).CollectAsync(new GcOptions { GracePeriod = AgedGrace }, null, default))
                swept.Add(blob);
            return swept;
        });

        var candidates = await judged.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(image.Blobs.Keys.Select(StoreLayout.BlobKey).Order(), candidates.Select(c => c.Key).Order());
        var push = await Transfers.PushAsync(image, Store, "race", "r1");
        release.SetResult();
        var swept = await collection;

        Assert.Equal(0, push.BlobsRestored);
        Assert.Empty(swept);
        await AssertCompleteAsync("race", "r1");
    }

    [Fact]
    public async Task UnfinishedWritesOlderThanTheGracePeriodAreReportedAndRemoved()
    {
        await TestImage.Single().PublishAsync(Store, "app", "v1");
        var unfinished = await LeaveUnfinishedWriteAsync();
        await AgeAsync();

        var wouldGo = await CollectAsync(new GcOptions { GracePeriod = AgedGrace, WhatIf = true });
        Assert.Equal([(unfinished, false)], wouldGo.Where(s => s.Kind == SweptKind.IncompleteWrite).Select(s => (s.Key, s.Removed)));
        Assert.Single(await IncompleteWritesAsync());

        var gone = await CollectAsync(new GcOptions { GracePeriod = AgedGrace });
        Assert.Equal([(unfinished, true)], gone.Where(s => s.Kind == SweptKind.IncompleteWrite).Select(s => (s.Key, s.Removed)));
        Assert.Empty(await IncompleteWritesAsync());
        await AssertCompleteAsync("app", "v1");
    }

    [Fact]
    public async Task UnfinishedWritesYoungerThanTheGracePeriodAreKept()
    {
        await LeaveUnfinishedWriteAsync();
        Assert.DoesNotContain(await CollectAsync(new GcOptions { GracePeriod = TimeSpan.FromHours(1) }), s => s.Kind == SweptKind.IncompleteWrite);
        Assert.Single(await IncompleteWritesAsync());
    }

    private async Task<List<IncompleteWrite>> IncompleteWritesAsync()
    {
        var writes = new List<IncompleteWrite>();
        await foreach (var write in ((IIncompleteWrites)Store.Objects).ListIncompleteWritesAsync(default)) writes.Add(write);
        return writes;
    }

    /// <summary>
    /// The chunked form of the race: a layer that shares most chunks with one whose tag is gone (its chunks old and
    /// unreferenced), pushed while a collection runs, and beside it the gone layer itself pushed again unchanged. The first
    /// push touches the chunks it reuses before and after publishing; the second finds the layer by its entry and touches its
    /// recipe alone, which the collection keeps with what it names. Either stores again what the collection took, so every
    /// tag reads back whole, chunk by chunk.
    /// </summary>
    [Fact]
    public async Task APushReusingChunksSurvivesAConcurrentCollection()
    {
        int restored = 0, reused = 0;
        var rounds = Math.Min(RaceRounds, 6);
        for (var round = 0; round < rounds; round++)
        {
            var original = new TarLayerImage(seed: round, bigFileBytes: 3 << 20);
            await Transfers.PushAsync(original, Store, "base", "v1");
            await Store.DeleteTagAsync("base", "v1", default);
            await AgeAsync();

            var edited = new TarLayerImage(seed: round, config: $"edited in round {round}\n", bigFileBytes: 3 << 20);
            var push = Task.Run(() => Transfers.PushAsync(edited, Store, "chunked", $"r{round}"));
            var unchangedDelay = Random.Shared.Next(0, RaceJitterMilliseconds);
            var unchanged = Task.Run(async () =>
            {
                await Task.Delay(unchangedDelay);
                return await Transfers.PushAsync(original, Store, "again", $"r{round}");
            });
            var gcDelay = Random.Shared.Next(0, RaceJitterMilliseconds);
            var gc = Task.Run(async () =>
            {
                await Task.Delay(gcDelay);
                return await CollectAsync(new GcOptions { GracePeriod = TimeSpan.Zero });
            });
            foreach (var result in await Task.WhenAll(push, unchanged))
            {
                reused += result.ChunksReused;
                restored += result.BlobsRestored;
            }
            await gc;

            for (var done = 0; done <= round; done++)
            {
                foreach (var name in new[] { "chunked", "again" })
                {
                    var layer = (await Store.GetTagAsync(name, $"r{done}", default)).Manifest.Layers[0];
                    Assert.Equal(MediaTypes.OciLayerZstd, layer.MediaType);
                    await using var content = await Store.OpenBlobAsync(layer, default);
                    await content.DrainAndVerifyAsync(default);
                }
            }
        }
        // Not asserted, since timing decides whether the collection took the old chunks before the push reused them.
        Console.WriteLine($"{GetType().Name}: {rounds} chunked rounds, {reused} chunks reused, {restored} layers restored by the pushes");
    }

    /// <summary>
    /// The root rule, forced: a collection reads its clock, then an unchanged push of a layer stored chunked before (its tag
    /// gone, everything old) finds it and touches its recipe alone, and is held before its publish while the whole collection
    /// runs. The recipe is young, so the collection keeps it and, through it, its file index, chunks and layer entry: the push
    /// publishes a tag that reads back whole without storing anything again. An old recipe no tag names goes with its chunks.
    /// </summary>
    [Fact]
    public async Task ACollectionBetweenAReusingPushsCheckAndItsPublishKeepsEveryChunkItsRecipeNames()
    {
        var image = new TarLayerImage(bigFileBytes: 3 << 20);
        var first = await Transfers.PushAsync(image, Store, "base", "v1");
        var layer = (await Store.GetTagAsync("base", "v1", default)).Manifest.Layers[0];
        await Store.DeleteTagAsync("base", "v1", default);
        var orphanLayer = Digest.Compute(TestImage.RandomBytes(10));
        var orphanChunk = Digest.Compute(TestImage.RandomBytes(10));
        await PutRecipeAsync(orphanLayer, orphanChunk);
        await AgeAsync();

        var clockRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pushChecked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var collected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var collecting = new PausingObjectStore(Store.Objects)
        {
            AfterGetClock = async () =>
            {
                clockRead.TrySetResult();
                await pushChecked.Task.WaitAsync(TimeSpan.FromSeconds(60));
            },
        };
        var pushing = new PausingObjectStore(Store.Objects)
        {
            BeforePutBytes = async key =>
            {
                if (key != StoreLayout.OciLayoutKey("again", "v1")) return;
                pushChecked.TrySetResult();
                await collected.Task.WaitAsync(TimeSpan.FromSeconds(60));
            },
        };
        var collection = Task.Run(async () =>
        {
            var swept = new List<SweptBlob>();
            await foreach (var blob in new GarbageCollector(new ImageStore(collecting)).CollectAsync(new GcOptions { GracePeriod = AgedGrace }, null, default))
                swept.Add(blob);
            collected.SetResult();
            return swept;
        });
        await clockRead.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var push = await Transfers.PushAsync(image, new ImageStore(pushing), "again", "v1");
        var swept = await collection;

        Assert.Equal((0, first.ChunksUploaded, 0), (push.ChunksUploaded, push.ChunksReused, push.BlobsRestored));
        Assert.Equal(new[] { StoreLayout.ChunksPrefix + orphanChunk.Hex, StoreLayout.IndexesPrefix + orphanLayer.Hex, StoreLayout.RecipesPrefix + orphanLayer.Hex },
            swept.Select(s => s.Key).Order(StringComparer.Ordinal));
        Assert.NotNull(await Store.Objects.HeadAsync(StoreLayout.IndexKey(layer.Digest), default));
        Assert.NotNull(await Store.Objects.HeadAsync(StoreLayout.LayerKey(Digest.Compute(image.RawLayer)), default));
        var stored = (await Store.GetTagAsync("again", "v1", default)).Manifest.Layers[0];
        Assert.Equal(layer, stored);
        await using var content = await Store.OpenBlobAsync(stored, default);
        await content.DrainAndVerifyAsync(default);
    }

    private async Task<List<SweptBlob>> CollectAsync(GcOptions options)
    {
        var swept = new List<SweptBlob>();
        await foreach (var blob in Collector.CollectAsync(options, null, default)) swept.Add(blob);
        return swept;
    }

    private async Task<Dictionary<string, byte[]>> PutGarbageAsync(int count)
    {
        var garbage = new Dictionary<string, byte[]>();
        for (var i = 0; i < count; i++)
        {
            var bytes = TestImage.RandomBytes(100 + i);
            var descriptor = new Descriptor("", Digest.Compute(bytes), bytes.Length);
            await Store.PutBlobAsync(descriptor, new MemoryStream(bytes), null, default);
            garbage[descriptor.Digest.ToString()] = bytes;
        }
        return garbage;
    }

    private async Task PutRecipeAsync(Digest layer, Digest chunk)
    {
        var recipe = $"{{\"layer\":\"{layer.Hex}\",\"size\":10,\"compressedDigest\":\"{layer.Hex}\",\"compressedSize\":10," +
                     $"\"chunks\":[{{\"digest\":\"{chunk.Hex}\",\"size\":10,\"compressedSize\":10}}]}}";
        await Store.Objects.PutBytesAsync(StoreLayout.RecipeKey(layer), Encoding.UTF8.GetBytes(recipe), ObjectClass.Metadata, default);
        await Store.Objects.PutBytesAsync(StoreLayout.IndexesPrefix + layer.Hex, "x"u8.ToArray(), ObjectClass.Metadata, default);
        await Store.Objects.PutBytesAsync(StoreLayout.ChunksPrefix + chunk.Hex, "x"u8.ToArray(), ObjectClass.Blob, default);
    }

    private async Task<List<string>> BlobKeysAsync()
    {
        var keys = new List<string>();
        await foreach (var o in Store.Objects.ListAsync(StoreLayout.BlobsPrefix, default)) keys.Add(o.Key);
        return keys;
    }

    private async Task AssertCompleteAsync(string name, string tag)
    {
        var root = (await Store.GetTagAsync(name, tag, default)).Manifest;
        await AssertTreeAsync(root);

        async Task AssertTreeAsync(Manifest manifest)
        {
            foreach (var reference in manifest.References)
            {
                Assert.True(await Store.BlobExistsAsync(reference.Digest, default), $"{name}:{tag} lost {reference.Digest}");
                if (manifest.IsIndex) await AssertTreeAsync(await Store.GetManifestBlobAsync(reference, default));
            }
        }
    }
}

public sealed class LocalGcTests : GcTests, IDisposable
{
    private readonly TempDir _temp = new();

    protected override Task<ImageStore> CreateStoreAsync() => Task.FromResult(_temp.OpenStore());

    protected override Task AgeAsync()
    {
        _temp.Age();
        return Task.CompletedTask;
    }

    protected override TimeSpan AgedGrace => TimeSpan.FromHours(1);

    protected override Task<string> LeaveUnfinishedWriteAsync()
    {
        var directory = Path.Combine(_temp.Path, "blobs", "sha256");
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, ".s3lo-tmp-0123456789abcdef"), TestImage.RandomBytes(1000));
        return Task.FromResult("blobs/sha256/.s3lo-tmp-0123456789abcdef");
    }

    protected override int RaceRounds => 30;

    protected override int RaceJitterMilliseconds => 80;

    public void Dispose() => _temp.Dispose();
}

/// <summary>S3 cannot backdate an object: "old" is a zero grace period and a wait past the Date header's whole second.</summary>
[Collection(RgwCollection.Name)]
public sealed class S3GcTests(RgwServer server) : GcTests
{
    private string _bucket = "";

    protected override async Task<ImageStore> CreateStoreAsync()
    {
        _bucket = server.NewBucket();
        return new(await S3ObjectStore.OpenAsync(S3StoreProvider.Location(_bucket, server.Connection("INTELLIGENT_TIERING", "STANDARD")), default));
    }

    protected override async Task<string> LeaveUnfinishedWriteAsync()
    {
        var key = StoreLayout.BlobKey(Digest.Compute(TestImage.RandomBytes(10)));
        using var client = new Amazon.S3.AmazonS3Client(RgwServer.AccessKey, RgwServer.SecretKey,
            new Amazon.S3.AmazonS3Config
            {
                ServiceURL = server.EndpointUrl, ForcePathStyle = true, AuthenticationRegion = "us-east-1",
                RequestChecksumCalculation = Amazon.Runtime.RequestChecksumCalculation.WHEN_REQUIRED,
            });
        var upload = await client.InitiateMultipartUploadAsync(_bucket, key);
        await client.UploadPartAsync(new Amazon.S3.Model.UploadPartRequest
        {
            BucketName = _bucket, Key = key, UploadId = upload.UploadId, PartNumber = 1, InputStream = new MemoryStream(TestImage.RandomBytes(1000)),
        });
        return key;
    }

    protected override Task AgeAsync() => Task.Delay(TimeSpan.FromSeconds(1.1));

    protected override TimeSpan AgedGrace => TimeSpan.Zero;

    protected override int RaceRounds => 15;

    protected override int RaceJitterMilliseconds => 2500;
}

/// <summary>Azure cannot backdate a blob either: "old" is a zero grace period and a wait past the Date header's whole second.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzureGcTests(AzuriteServer server) : GcTests
{
    private string _container = "";

    protected override async Task<ImageStore> CreateStoreAsync()
    {
        _container = server.NewContainer();
        return new(await AzureObjectStore.OpenAsync(AzureStoreProvider.Location(_container, server.Connection()), server.Connection(), default));
    }

    protected override async Task<string> LeaveUnfinishedWriteAsync()
    {
        var key = StoreLayout.BlobKey(Digest.Compute(TestImage.RandomBytes(10)));
        var blob = server.Client(_container).GetBlockBlobClient(key);
        await blob.StageBlockAsync(Convert.ToBase64String(new byte[20]), new MemoryStream(TestImage.RandomBytes(1000)));
        return key;
    }

    protected override Task AgeAsync() => Task.Delay(TimeSpan.FromSeconds(1.1));

    protected override TimeSpan AgedGrace => TimeSpan.Zero;

    protected override int RaceRounds => 15;

    protected override int RaceJitterMilliseconds => 2500;
}
