using System.Text;
using System.Text.Json;
using S3lo.Core.Health;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Azure;
using S3lo.Core.Storage.Local;
using S3lo.Core.Storage.S3;
using S3lo.Core.Tests.Gc;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Health;

/// <summary>
/// The store check and the statistics on stores broken on purpose, against the local, S3 and Azure stores alike. Every
/// check also proves it changed nothing: the store's listing (keys, sizes, dates) is the same before and after.
/// </summary>
public abstract class StoreHealthTests : IAsyncLifetime
{
    private TestImage _single = null!;
    private TestImage _index = null!;
    private TarLayerImage _chunked = null!;

    protected ImageStore Store { get; private set; } = null!;

    protected abstract Task<ImageStore> CreateStoreAsync();

    /// <summary>Makes everything now in the store older than <see cref="AgedGrace"/> by the store's clock.</summary>
    protected abstract Task AgeAsync();

    protected abstract TimeSpan AgedGrace { get; }

    public async Task InitializeAsync()
    {
        Store = await CreateStoreAsync();
        _single = TestImage.Single();
        _index = TestImage.Index();
        _chunked = new TarLayerImage(seed: 7, bigFileBytes: 3 << 20);
        await _single.PublishAsync(Store, "app", "v1");
        await _single.PublishAsync(Store, "app", "v2");
        await _index.PublishAsync(Store, "org/multi", "latest");
        await Transfers.PushAsync(_chunked, Store, "chunked", "v1");
    }

    public async Task DisposeAsync() => await Store.DisposeAsync();

    [Fact]
    public async Task AHealthyStoreHasNoProblemEvenWhenEveryObjectIsRead()
    {
        Assert.Empty(await CheckAsync(new StoreCheckOptions()));
        Assert.Empty(await CheckAsync(new StoreCheckOptions { Deep = true }));
    }

    [Fact]
    public async Task ADeletedLayerBlobIsMissingFromEveryTagThatUsesIt()
    {
        var layer = _single.Root.Layers[1];
        await Store.Objects.DeleteAsync([StoreLayout.BlobKey(layer.Digest)], default);

        var problems = await CheckAsync(new StoreCheckOptions());

        Assert.Equal(new[] { ("app:v1", StoreLayout.BlobKey(layer.Digest)), ("app:v2", StoreLayout.BlobKey(layer.Digest)) },
            problems.Select(p => (p.Reference, p.Key)).Order());
        Assert.All(problems, p => Assert.Equal((ProblemSeverity.Error, ProblemKind.MissingBlob), (p.Severity, p.Kind)));
        Assert.Contains(layer.Digest.ToString(), problems[0].Message);
    }

    [Fact]
    public async Task ADeletedChunkIsMissingAndOnlyThat()
    {
        var recipe = await ChunkedRecipeAsync();
        var chunk = StoreLayout.ChunkKey(recipe.Chunks[^1].Digest);
        await Store.Objects.DeleteAsync([chunk], default);

        foreach (var deep in new[] { false, true })
        {
            var problem = Assert.Single(await CheckAsync(new StoreCheckOptions { Deep = deep }));
            Assert.Equal((ProblemSeverity.Error, ProblemKind.MissingChunk, "chunked:v1", chunk), (problem.Severity, problem.Kind, problem.Reference, problem.Key));
        }
    }

    [Fact]
    public async Task ACorruptedBlobOfTheRightSizeIsFoundOnlyByADeepCheckAndOnce()
    {
        var layer = _single.Root.Layers[0];
        var corrupted = (byte[])_single.Blobs[layer.Digest].Clone();
        corrupted[100] ^= 0xff;
        await Store.Objects.PutBytesAsync(StoreLayout.BlobKey(layer.Digest), corrupted, ObjectClass.Blob, default);

        Assert.Empty(await CheckAsync(new StoreCheckOptions()));
        var problem = Assert.Single(await CheckAsync(new StoreCheckOptions { Deep = true }));
        Assert.Equal((ProblemSeverity.Error, ProblemKind.DigestMismatch, StoreLayout.BlobKey(layer.Digest)), (problem.Severity, problem.Kind, problem.Key));
        Assert.StartsWith("app:v", problem.Reference);
    }

    [Fact]
    public async Task ACorruptedChunkIsFoundByADeepCheck()
    {
        var recipe = await ChunkedRecipeAsync();
        var chunk = StoreLayout.ChunkKey(recipe.Chunks[0].Digest);
        var frame = (await Store.Objects.GetBytesAsync(chunk, 32 << 20, default))!.Bytes;
        frame[^5] ^= 0xff;
        await Store.Objects.PutBytesAsync(chunk, frame, ObjectClass.Blob, default);

        Assert.Empty(await CheckAsync(new StoreCheckOptions()));
        var problem = Assert.Single(await CheckAsync(new StoreCheckOptions { Deep = true }));
        Assert.Equal((ProblemKind.DigestMismatch, "chunked:v1", chunk), (problem.Kind, problem.Reference, problem.Key));
    }

    [Fact]
    public async Task ABrokenManifestIsReportedAndNoObjectIsCalledOrphanedSinceWhatItReferencedIsUnknown()
    {
        var key = StoreLayout.ManifestKey("org/broken", "v2");
        await Store.Objects.PutBytesAsync(key, "{\"schemaVersion\":2,"u8.ToArray(), ObjectClass.Metadata, default);
        await PutGarbageAsync();
        await AgeAsync();

        var problem = Assert.Single(await CheckAsync(new StoreCheckOptions { GracePeriod = AgedGrace }));
        Assert.Equal((ProblemSeverity.Error, ProblemKind.InvalidManifest, "org/broken:v2", key), (problem.Severity, problem.Kind, problem.Reference, problem.Key));
    }

    [Fact]
    public async Task AMalformedPolicyFileIsReported()
    {
        await Store.Objects.PutBytesAsync("s3lo.yaml", "default:\n  immutable: \"yes please\"\n"u8.ToArray(), ObjectClass.Metadata, default);

        var problem = Assert.Single(await CheckAsync(new StoreCheckOptions()));
        Assert.Equal((ProblemSeverity.Error, ProblemKind.InvalidPolicy, "", "s3lo.yaml"), (problem.Severity, problem.Kind, problem.Reference, problem.Key));
        Assert.Contains("line 2", problem.Message);
    }

    [Fact]
    public async Task AnotherChunkFormatIsReported()
    {
        await Store.Objects.PutBytesAsync("s3lo.yaml", "chunk_format: 2\n"u8.ToArray(), ObjectClass.Metadata, default);

        var problem = Assert.Single(await CheckAsync(new StoreCheckOptions()));
        Assert.Equal((ProblemSeverity.Error, ProblemKind.ChunkFormatMismatch, "s3lo.yaml"), (problem.Severity, problem.Kind, problem.Key));
    }

    [Fact]
    public async Task OrphansAreInformationInsideTheGracePeriodAndWarningsPastIt()
    {
        var garbage = await PutGarbageAsync();

        var recent = Assert.Single(await CheckAsync(new StoreCheckOptions { GracePeriod = TimeSpan.FromHours(1) }));
        Assert.Equal((ProblemSeverity.Information, ProblemKind.Orphaned, "", garbage), (recent.Severity, recent.Kind, recent.Reference, recent.Key));

        await AgeAsync();
        var old = Assert.Single(await CheckAsync(new StoreCheckOptions { GracePeriod = AgedGrace }));
        Assert.Equal((ProblemSeverity.Warning, ProblemKind.Orphaned, garbage), (old.Severity, old.Kind, old.Key));
    }

    [Fact]
    public async Task ASignatureOfAnotherDigestIsStaleAndAnUnreadableOneInvalid()
    {
        var digest = (await Store.GetTagAsync("app", "v1", default)).Manifest.Digest;
        await PutSignatureAsync("app", "v1", "0123456789abcdef", digest);
        await PutSignatureAsync("app", "v2", "0123456789abcdef", Digest.Compute("an earlier push"u8));
        await Store.Objects.PutBytesAsync(StoreLayout.SignaturesPrefix("org/multi", "latest") + "fedcba9876543210.json", "{\"schemaVersion\":"u8.ToArray(),
            ObjectClass.Metadata, default);

        var problems = (await CheckAsync(new StoreCheckOptions())).OrderBy(p => p.Reference, StringComparer.Ordinal).ToList();

        Assert.Equal(new[]
        {
            (ProblemKind.SignatureMismatch, "app:v2", StoreLayout.SignaturesPrefix("app", "v2") + "0123456789abcdef.json"),
            (ProblemKind.InvalidSignature, "org/multi:latest", StoreLayout.SignaturesPrefix("org/multi", "latest") + "fedcba9876543210.json"),
        }, problems.Select(p => (p.Kind, p.Reference, p.Key)));
        Assert.All(problems, p => Assert.Equal(ProblemSeverity.Warning, p.Severity));
    }

    [Fact]
    public async Task AScopedCheckLooksOnlyAtItsTagsAndJudgesNoOrphans()
    {
        await Store.Objects.DeleteAsync([StoreLayout.BlobKey(_index.ImageManifests.First().Config!.Digest)], default);
        await PutGarbageAsync();

        Assert.Empty(await CheckAsync(new StoreCheckOptions { NamePrefix = "app/", NameMatch = n => n == "app" }));
        var problem = Assert.Single(await CheckAsync(new StoreCheckOptions { TagMatch = t => t == "latest" }));
        Assert.Equal((ProblemKind.MissingBlob, "org/multi:latest"), (problem.Kind, problem.Reference));
    }

    [Fact]
    public async Task AMissingIndexChildIsReported()
    {
        var child = _index.Root.Manifests[0];
        await Store.Objects.DeleteAsync([StoreLayout.BlobKey(child.Digest)], default);

        var problem = Assert.Single(await CheckAsync(new StoreCheckOptions()));
        Assert.Equal((ProblemKind.MissingIndexChild, "org/multi:latest", StoreLayout.BlobKey(child.Digest)), (problem.Kind, problem.Reference, problem.Key));
    }

    [Fact]
    public async Task AChunkedLayerWithoutItsRecipeIsMissingItsRecipe()
    {
        var layer = (await Store.GetTagAsync("chunked", "v1", default)).Manifest.Layers[0];
        await Store.Objects.DeleteAsync([StoreLayout.RecipeKey(layer.Digest)], default);

        var problem = Assert.Single(await CheckAsync(new StoreCheckOptions()), p => p.Severity == ProblemSeverity.Error);
        Assert.Equal((ProblemKind.MissingRecipe, "chunked:v1", StoreLayout.RecipeKey(layer.Digest)), (problem.Kind, problem.Reference, problem.Key));
    }

    [Fact]
    public async Task AChunkedLayerWithoutItsFileIndexIsAWarning()
    {
        var layer = (await Store.GetTagAsync("chunked", "v1", default)).Manifest.Layers[0];
        await Store.Objects.DeleteAsync([StoreLayout.IndexKey(layer.Digest)], default);

        var problem = Assert.Single(await CheckAsync(new StoreCheckOptions()));
        Assert.Equal((ProblemSeverity.Warning, ProblemKind.MissingFileIndex, StoreLayout.IndexKey(layer.Digest)), (problem.Severity, problem.Kind, problem.Key));
    }

    [Fact]
    public async Task ARecipeThatDoesNotParseIsReported()
    {
        var layer = (await Store.GetTagAsync("chunked", "v1", default)).Manifest.Layers[0];
        await Store.Objects.PutBytesAsync(StoreLayout.RecipeKey(layer.Digest), "{\"chunks\":[]}"u8.ToArray(), ObjectClass.Metadata, default);

        var problem = Assert.Single(await CheckAsync(new StoreCheckOptions()));
        Assert.Equal((ProblemSeverity.Error, ProblemKind.InvalidRecipe, "chunked:v1", StoreLayout.RecipeKey(layer.Digest)),
            (problem.Severity, problem.Kind, problem.Reference, problem.Key));
    }

    [Fact]
    public async Task ABlobOfAnotherSizeIsReported()
    {
        var config = _single.Root.Config!;
        await Store.Objects.PutBytesAsync(StoreLayout.BlobKey(config.Digest), _single.Blobs[config.Digest].Append((byte)'\n').ToArray(), ObjectClass.Blob, default);

        var problems = await CheckAsync(new StoreCheckOptions());
        Assert.Equal(new[] { "app:v1", "app:v2" }, problems.Select(p => p.Reference).Order());
        Assert.All(problems, p => Assert.Equal((ProblemKind.SizeMismatch, StoreLayout.BlobKey(config.Digest)), (p.Kind, p.Key)));
    }

    [Fact]
    public async Task TheFiguresAreTheSumsOfWhatIsStored()
    {
        await PutGarbageAsync();
        var (logical, tagsOfLayer) = await ReferencedFromManifestsAsync();
        long stored = 0, metadata = 0, blobs = 0, chunks = 0;
        await foreach (var o in Store.Objects.ListAsync("", default))
        {
            if (o.Key.StartsWith("blobs/", StringComparison.Ordinal)) blobs++;
            if (o.Key.StartsWith("chunks/", StringComparison.Ordinal)) chunks++;
            if (o.Key.StartsWith("blobs/", StringComparison.Ordinal) || o.Key.StartsWith("chunks/", StringComparison.Ordinal)) stored += o.Size;
            else metadata += o.Size;
        }
        var prices = new StorePrices { S3StandardPerGB = 1000m, AzureHotPerGB = 2000m, AzureCoolPerGB = 500m, EcrPerGB = 4000m };

        var measured = await new StoreMeasurer(Store).MeasureAsync(prices, null, (r, e) => Assert.Fail($"{r}: {e.Message}"), default);

        var s = measured.Store;
        Assert.Equal((4, 3), (s.Tags, s.Images));
        Assert.Equal(logical.Values.Sum(), s.LogicalBytes);
        Assert.Equal((stored, metadata), (s.StoredBytes, s.MetadataBytes));
        Assert.Equal(s.LogicalBytes - s.StoredBytes, s.BytesSaved);
        Assert.Equal(Math.Round(s.LogicalBytes / (double)s.StoredBytes, 2), s.DedupRatio);
        Assert.Equal((4L, blobs, chunks, 1L, 1L, 1L), (s.Objects.Manifests, s.Objects.Blobs, s.Objects.Chunks, s.Objects.Recipes, s.Objects.FileIndexes, s.Objects.LayerEntries));
        var gb = (decimal)(1L << 30);
        Assert.Equal(Math.Round(s.LogicalBytes / gb * 4000m, 4), Math.Round(s.NoDedupRegistryMonthlyCost, 4));
        var expectedCost = Store.Location.Scheme == "az" ? stored / gb * 500m + metadata / gb * 2000m : (stored + metadata) / gb * 1000m;
        Assert.Equal(Math.Round(expectedCost, 4), Math.Round(s.MonthlyCost, 4));

        var app = Assert.Single(measured.Images, i => i.Name == "app");
        Assert.Equal((2, logical["app:v1"] + logical["app:v2"], logical["app:v1"], logical["app:v1"]), (app.Tags, app.LogicalBytes, app.ReferencedBytes, app.ExclusiveBytes));
        var shared = tagsOfLayer.Where(l => l.Value.Count > 1).Select(l => (l.Key, string.Join(",", l.Value.Order(StringComparer.Ordinal)))).Order().ToList();
        Assert.Equal(shared, measured.SharedLayers.Select(l => (l.Digest, string.Join(",", l.Tags))).Order());
        Assert.Equal(2, shared.Count);
        Assert.False(Assert.Single(measured.Images, i => i.Name == "chunked").ReferencedBytes == 0);
    }

    /// <summary>What each tag references (sum of the distinct descriptor sizes), read from the manifests with a plain JSON parser, and the tags of each layer.</summary>
    private async Task<(Dictionary<string, long> Logical, Dictionary<string, List<string>> TagsOfLayer)> ReferencedFromManifestsAsync()
    {
        var logical = new Dictionary<string, long>();
        var tagsOfLayer = new Dictionary<string, List<string>>();
        await foreach (var o in Store.Objects.ListAsync("manifests/", default))
        {
            if (!o.Key.EndsWith("/manifest.json", StringComparison.Ordinal)) continue;
            var tag = o.Key["manifests/".Length..^"/manifest.json".Length];
            var slash = tag.LastIndexOf('/');
            tag = tag[..slash] + ":" + tag[(slash + 1)..];
            var seen = new Dictionary<string, long>();
            await AddAsync((await Store.Objects.GetBytesAsync(o.Key, 1 << 20, default))!.Bytes);
            logical[tag] = seen.Values.Sum();

            async Task AddAsync(byte[] json)
            {
                using var document = JsonDocument.Parse(json);
                var root = document.RootElement;
                if (root.TryGetProperty("manifests", out var children))
                {
                    foreach (var child in children.EnumerateArray())
                    {
                        var digest = child.GetProperty("digest").GetString()!;
                        seen[digest] = child.GetProperty("size").GetInt64();
                        await AddAsync((await Store.Objects.GetBytesAsync("blobs/sha256/" + digest[7..], 1 << 20, default))!.Bytes);
                    }
                    return;
                }
                seen[root.GetProperty("config").GetProperty("digest").GetString()!] = root.GetProperty("config").GetProperty("size").GetInt64();
                foreach (var layer in root.GetProperty("layers").EnumerateArray())
                {
                    var digest = layer.GetProperty("digest").GetString()!;
                    seen[digest] = layer.GetProperty("size").GetInt64();
                    if (!tagsOfLayer.TryGetValue(digest, out var tags)) tagsOfLayer[digest] = tags = [];
                    if (!tags.Contains(tag)) tags.Add(tag);
                }
            }
        }
        return (logical, tagsOfLayer);
    }

    private async Task<ChunkRecipe> ChunkedRecipeAsync()
    {
        var layer = (await Store.GetTagAsync("chunked", "v1", default)).Manifest.Layers[0];
        var recipe = await Store.TryGetRecipeAsync(layer.Digest, default);
        Assert.NotNull(recipe);
        Assert.True(recipe.Chunks.Count >= 2, "the test layer is stored as more than one chunk");
        return recipe;
    }

    private async Task<List<StoreProblem>> CheckAsync(StoreCheckOptions options)
    {
        var before = await ListingAsync();
        var problems = new List<StoreProblem>();
        await foreach (var problem in new StoreChecker(Store).CheckAsync(options, null, default)) problems.Add(problem);
        Assert.Equal(before, await ListingAsync());
        return problems;
    }

    private async Task<List<(string, long, DateTimeOffset)>> ListingAsync()
    {
        var listing = new List<(string, long, DateTimeOffset)>();
        await foreach (var o in Store.Objects.ListAsync("", default)) listing.Add((o.Key, o.Size, o.LastModified));
        return listing.Order().ToList();
    }

    private async Task<string> PutGarbageAsync()
    {
        var bytes = TestImage.RandomBytes(321);
        var descriptor = new Descriptor("", Digest.Compute(bytes), bytes.Length);
        await Store.PutBlobAsync(descriptor, new MemoryStream(bytes), null, default);
        return StoreLayout.BlobKey(descriptor.Digest);
    }

    private Task PutSignatureAsync(string name, string tag, string keyId, Digest digest)
        => Store.Objects.PutBytesAsync(StoreLayout.SignaturesPrefix(name, tag) + keyId + ".json", Encoding.UTF8.GetBytes(
            $"{{\"schemaVersion\":2,\"digest\":\"{digest}\",\"keyRef\":\"cosign.pub\",\"keyID\":\"{keyId}\",\"algorithm\":\"ECDSA_SHA_256\"," +
            "\"signature\":\"MEUCIQ==\",\"signedAt\":\"2026-12-01T10:00:00Z\"}"), ObjectClass.Metadata, default);
}

public sealed class LocalStoreHealthTests : StoreHealthTests, IDisposable
{
    private readonly TempDir _dir = new();

    protected override Task<ImageStore> CreateStoreAsync() => Task.FromResult(_dir.OpenStore());

    protected override Task AgeAsync()
    {
        _dir.Age();
        return Task.CompletedTask;
    }

    protected override TimeSpan AgedGrace => TimeSpan.FromHours(1);

    [Fact]
    public async Task ADirectoryThatDoesNotExistIsNotAStore()
    {
        await using var missing = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("nothing-here"))));
        await ImageAssert.ThrowsS3loAsync(ErrorIds.StoreNotFound, async () =>
        {
            await foreach (var _ in new StoreChecker(missing).CheckAsync(new StoreCheckOptions(), null, default)) { }
        });
        await ImageAssert.ThrowsS3loAsync(ErrorIds.StoreNotFound, () => new StoreMeasurer(missing).MeasureAsync(new StorePrices(), null, (_, _) => { }, default));
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>S3 cannot backdate an object: "old" is a zero grace period and a wait past the Date header's whole second.</summary>
[Collection(RgwCollection.Name)]
public sealed class S3StoreHealthTests(RgwServer server) : StoreHealthTests
{
    protected override async Task<ImageStore> CreateStoreAsync()
        => new(await S3ObjectStore.OpenAsync(S3StoreProvider.Location(server.NewBucket(), server.Connection("INTELLIGENT_TIERING", "STANDARD")), default));

    protected override Task AgeAsync() => Task.Delay(TimeSpan.FromSeconds(1.1));

    protected override TimeSpan AgedGrace => TimeSpan.Zero;

    [Fact]
    public async Task ABucketThatDoesNotExistIsNotAStore()
    {
        await using var missing = new ImageStore(await S3ObjectStore.OpenAsync(S3StoreProvider.Location("no-such-bucket-health", server.Connection()), default));
        await ImageAssert.ThrowsS3loAsync(ErrorIds.StoreNotFound, async () =>
        {
            await foreach (var _ in new StoreChecker(missing).CheckAsync(new StoreCheckOptions(), null, default)) { }
        });
    }
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureStoreHealthTests(AzuriteServer server) : StoreHealthTests
{
    protected override async Task<ImageStore> CreateStoreAsync()
        => new(await AzureObjectStore.OpenAsync(AzureStoreProvider.Location(server.NewContainer(), server.Connection()), server.Connection(), default));

    protected override Task AgeAsync() => Task.Delay(TimeSpan.FromSeconds(1.1));

    protected override TimeSpan AgedGrace => TimeSpan.Zero;
}
