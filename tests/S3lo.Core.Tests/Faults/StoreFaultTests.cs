using S3lo.Core.IO;
using System.Text;
using Xunit.Abstractions;
using S3lo.Core.Catalog;
using S3lo.Core.Formats;
using S3lo.Core.Gc;
using S3lo.Core.Oci;
using S3lo.Core.Policy;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Azure;
using S3lo.Core.Storage.S3;
using S3lo.Core.Tests.Gc;
using S3lo.Core.Tests.TestSupport;
using S3lo.Core.Transfer;

namespace S3lo.Core.Tests.Faults;

/// <summary>
/// Push, list, save, copy, garbage collection and lifecycle against a real store behind a <see cref="FaultProxy"/> that
/// injects a seeded ~10% of 503s, 500s, resets, bodies cut off halfway and 2 s stalls. Each operation must succeed or fail
/// with a named S3lo error id, and after each one the store, read without faults, must be whole: no tag naming a missing
/// or wrong blob, no object under a content-addressed name whose bytes do not hash to it.
/// </summary>
public abstract class StoreFaultTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();

    protected abstract string Backend { get; }
    protected abstract string ServerUrl { get; }

    /// <summary>The same new, empty store twice: through the proxy at <paramref name="proxyUrl"/>, and straight.</summary>
    protected abstract Task<(IObjectStore Proxied, IObjectStore Direct)> OpenAsync(string proxyUrl);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Fault_injection_leaves_every_operation_succeeded_or_named_and_the_store_whole(int seed)
    {
        using var proxy = new FaultProxy(ServerUrl, seed);
        var (proxiedObjects, directObjects) = await OpenAsync(proxy.Url);
        await using var store = new ImageStore(proxiedObjects);
        await using var direct = new ImageStore(directObjects);
        var run = new FaultScenario(Backend, proxy, output);
        var pushed = new Dictionary<string, Digest>(StringComparer.Ordinal);

        var images = new (string Tag, TestImage Image)[] { ("v1", TestImage.Single()), ("v2", TestImage.Index()), ("v3", TestImage.Single()) };
        foreach (var (tag, image) in images)
        {
            if (await run.RunAsync("push " + tag, () => Transfers.PushAsync(image, store, "app", tag)))
                pushed["app:" + tag] = image.Root.Digest;
            await AssertWholeAsync(run, direct, pushed);
        }

        var listed = new List<ImageInfo>();
        if (await run.RunAsync("list", async () =>
            {
                await foreach (var image in new ImageCatalog(store).ListAsync("", _ => true, _ => true, null, default)) listed.Add(image);
            }))
            Assert.Equal((await AssertWholeAsync(run, direct, pushed)).Keys.Order(), listed.Select(i => $"{i.Name}:{i.Tag}").Order());

        if (pushed.ContainsKey("app:v1"))
        {
            var saved = _dir.File($"saved-{seed}");
            if (await run.RunAsync("save", () => Transfers.SaveAsync(store, ImageReference.Create(store.Location, "app", "v1", null), ImageFormat.OciLayout, saved, "app:v1")))
            {
                await using var layout = await ImageSources.OpenAsync(saved, null, default);
                Assert.Equal(images[0].Image.Root.Digest, layout.Root.Digest);
                var blobs = await ImageAssert.ReadAllBlobsAsync(layout);
                Assert.All(blobs, b => Assert.Equal(images[0].Image.Blobs[b.Key], b.Value));
                run.BytesVerified += blobs.Values.Sum(b => (long)b.Length);
            }
        }

        if (pushed.ContainsKey("app:v2"))
        {
            if (await run.RunAsync("copy", async () =>
                {
                    await using var source = await StoreImageSource.OpenAsync(store, ImageReference.Create(store.Location, "app", "v2", null), null, default);
                    await using var destination = new StoreDestination(store, ImageReference.Create(store.Location, "copy", "v2", null), force: false);
                    await ImageTransfer.CopyAsync(source, destination, null, null, default);
                }))
                pushed["copy:v2"] = pushed["app:v2"];
            await AssertWholeAsync(run, direct, pushed);
        }

        var garbage = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 2; i++)
        {
            var bytes = TestImage.RandomBytes(1000);
            var digest = Digest.Compute(bytes);
            await directObjects.PutVerifiedAsync(StoreLayout.BlobKey(digest), new MemoryStream(bytes), digest, bytes.Length, ObjectClass.Blob, null, default);
            garbage.Add(StoreLayout.BlobKey(digest));
        }
        var referenced = await ReferencedKeysAsync(direct);
        var swept = new List<SweptBlob>();
        await run.RunAsync("gc", async () =>
        {
            await foreach (var blob in new GarbageCollector(store).CollectAsync(new GcOptions { GracePeriod = TimeSpan.Zero }, null, default)) swept.Add(blob);
        });
        // Besides the garbage put here, the blobs of a push that failed before its tag are fair game.
        Assert.All(swept, s => Assert.False(referenced.Contains(s.Key), $"The collection swept {s.Key}, which a tag references."));
        await AssertWholeAsync(run, direct, pushed);

        await directObjects.PutBytesAsync(PolicyStore.Key, "images:\n  app:\n    lifecycle: { keep_last: 1 }\n"u8.ToArray(), ObjectClass.Metadata, default);
        var removed = new List<string>();
        await run.RunAsync("lifecycle", async () =>
        {
            var catalog = new ImageCatalog(store);
            await foreach (var item in new LifecyclePlanner(store).PlanAsync("", _ => true, null, default))
            {
                if (item.Action != LifecycleAction.Remove) continue;
                await catalog.RemoveAsync(item, force: false, default);
                removed.Add($"{item.Name}:{item.Tag}");
            }
        });
        foreach (var tag in removed) pushed.Remove(tag);
        var after = await AssertWholeAsync(run, direct, pushed);
        Assert.All(removed, tag => Assert.DoesNotContain(tag, after.Keys));

        run.Print();
    }

    /// <summary>The blob keys the store's tags reach, an index's children and their blobs included.</summary>
    private static async Task<HashSet<string>> ReferencedKeysAsync(ImageStore direct)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        async Task Walk(Manifest manifest)
        {
            foreach (var descriptor in manifest.References)
            {
                keys.Add(StoreLayout.BlobKey(descriptor.Digest));
                if (MediaTypes.IsManifest(descriptor.MediaType)) await Walk(await direct.GetManifestBlobAsync(descriptor, default));
            }
        }
        await foreach (var entry in direct.ListTagsAsync("", default)) await Walk((await direct.GetTagAsync(entry.Name, entry.Tag, default)).Manifest);
        return keys;
    }

    /// <summary>The store read without faults is whole, and holds every tag that was pushed with the digest pushed.</summary>
    private static async Task<Dictionary<string, Digest>> AssertWholeAsync(FaultScenario run, ImageStore direct, Dictionary<string, Digest> pushed)
    {
        var tags = await run.AssertStoreIsWholeAsync(direct);
        foreach (var (tag, digest) in pushed)
            Assert.True(tags.GetValueOrDefault(tag) == digest, $"{tag} was pushed as {digest}, the store holds {(tags.TryGetValue(tag, out var held) ? held : "nothing")}.");
        return tags;
    }

    /// <summary>
    /// Every member of the store's contract, against a proxy that breaks every request (errors, resets, cut-off
    /// bodies): what comes out is an S3loException with a known id, never an SDK or System exception.
    /// </summary>
    [Fact]
    public async Task A_store_that_always_fails_raises_only_named_S3lo_errors()
    {
        using var proxy = new FaultProxy(ServerUrl, 7, 1.0, Fault.Unavailable, Fault.InternalError, Fault.ResetBeforeAnswer, Fault.BodyCutOff);
        var (objects, direct) = await OpenAsync(proxy.Url);
        await using var _ = direct;
        await using var store = objects;
        var data = Encoding.UTF8.GetBytes("some object");
        var digest = Digest.Compute(data);
        await direct.PutBytesAsync("present", data, ObjectClass.Metadata, default);
        var calls = new (string Member, Func<Task> Call)[]
        {
            ("HeadAsync", () => store.HeadAsync("present", default)),
            ("HeadAsync missing", () => store.HeadAsync("missing", default)),
            ("GetBytesAsync", () => store.GetBytesAsync("present", 1000, default)),
            ("GetBytesAsync missing", () => store.GetBytesAsync("missing", 1000, default)),
            ("OpenReadAsync", async () =>
            {
                await using var stream = await store.OpenReadAsync("present", default);
                await stream.CopyToAsync(Stream.Null);
            }),
            ("PutBytesAsync", () => store.PutBytesAsync("written", data, ObjectClass.Metadata, default)),
            ("PutBytesAsync conditional", () => store.PutBytesAsync("created", data, ObjectClass.Metadata, WriteCondition.IfNotExists, default)),
            ("PutVerifiedAsync", () => store.PutVerifiedAsync(StoreLayout.BlobKey(digest), new MemoryStream(data), digest, data.Length, ObjectClass.Blob, null, default)),
            ("ListAsync", async () => { await foreach (var o in store.ListAsync("", default)) { } }),
            ("DeleteAsync", () => store.DeleteAsync(["written"], default)),
            ("DeleteIfUnchangedAsync", () => store.DeleteIfUnchangedAsync([new ObjectInfo("present", data.Length, DateTimeOffset.UtcNow.AddDays(-1), "\"etag\"")], default)),
            ("TouchAsync", () => store.TouchAsync("present", default)),
            ("GetClockAsync", () => store.GetClockAsync(default)),
        };
        foreach (var (member, call) in calls)
        {
            try
            {
                await call();
            }
            catch (Exception e)
            {
                FaultScenario.AssertNamed(e, member);
            }
        }
        output.WriteLine($"{Backend} always failing: {proxy.Summary}");
        Assert.True(proxy.InjectedTotal > calls.Length);
    }

    /// <summary>A ranged read (a Range request to the server) whose body is cut off is opened again at the byte it reached
    /// within the range, not at the range's start or the object's: the bytes are the object's from the offset on, none
    /// skipped or repeated. A range is not checked against a digest, so only this keeps it right.</summary>
    [Fact]
    public async Task A_ranged_read_cut_off_mid_body_resumes_at_the_byte_it_reached()
    {
        using var proxy = new FaultProxy(ServerUrl, 3, 0.5, Fault.BodyCutOff);
        var (objects, direct) = await OpenAsync(proxy.Url);
        await using var _ = direct;
        await using var store = objects;
        var data = new byte[4 << 20];
        new Random(5).NextBytes(data);
        await direct.PutBytesAsync("blobs/sha256/ranged", data, ObjectClass.Blob, default);
        const int offset = 1_234_567, length = 2_000_000;
        var read = new MemoryStream();
        for (var attempt = 0; attempt < 8 && proxy.Injected(Fault.BodyCutOff) == 0; attempt++)
        {
            read.SetLength(0);
            await using var stream = await ((IRangedReads)store).OpenReadAsync("blobs/sha256/ranged", offset, length, default);
            await stream.CopyToAsync(read);
        }
        output.WriteLine($"{Backend} ranged read: {proxy.Summary}");
        Assert.True(proxy.Injected(Fault.BodyCutOff) > 0);
        Assert.Equal(data[offset..(offset + length)], read.ToArray());
    }

    /// <summary>A blob from a source that can be read again (a file) goes up in one request; when that request fails after
    /// its body was sent (the proxy reads it whole, then answers 503 or resets), the SDK's retry sends it again from the
    /// first byte, and what is stored is the blob, with the progress counted once.</summary>
    [Fact]
    public async Task A_whole_blob_request_that_fails_is_sent_again_from_its_first_byte()
    {
        using var proxy = new FaultProxy(ServerUrl, 11, 0.5, Fault.Unavailable, Fault.ResetBeforeAnswer);
        var (objects, direct) = await OpenAsync(proxy.Url);
        await using var _ = direct;
        await using var store = objects;
        for (var attempt = 0; attempt < 8 && proxy.InjectedTotal == 0; attempt++)
        {
            var data = new byte[(8 << 20) + 4321];
            new Random(attempt).NextBytes(data);
            var digest = Digest.Compute(data);
            long reported = 0;
            await using var source = new VerifyingReadStream(new MemoryStream(data), digest, data.Length, "blob in the source");
            await store.PutVerifiedAsync(StoreLayout.BlobKey(digest), source, digest, data.Length, ObjectClass.Blob, n => Interlocked.Add(ref reported, n), default);
            Assert.Equal(data.Length, reported);
            await using var read = await direct.OpenReadAsync(StoreLayout.BlobKey(digest), default);
            Assert.Equal(digest, await Digest.ComputeAsync(read, default));
        }
        output.WriteLine($"{Backend} whole blobs: {proxy.Summary}");
        Assert.True(proxy.InjectedTotal > 0);
    }

    public void Dispose() => _dir.Dispose();
}

[Collection(RgwCollection.Name)]
public sealed class S3FaultTests(RgwServer server, ITestOutputHelper output) : StoreFaultTests(output)
{
    protected override string Backend => "S3 (RGW)";
    protected override string ServerUrl => server.EndpointUrl;

    protected override async Task<(IObjectStore Proxied, IObjectStore Direct)> OpenAsync(string proxyUrl)
    {
        var bucket = server.NewBucket();
        return (await S3ObjectStore.OpenAsync(S3StoreProvider.Location(bucket, server.Connection() with { EndpointUrl = proxyUrl }), default),
            await S3ObjectStore.OpenAsync(S3StoreProvider.Location(bucket, server.Connection()), default));
    }

    /// <summary>An answer whose body stops arriving is given up after the store's idle time and read on from the byte it
    /// reached; without the idle time it waits for the stalled server (here 20 s, on the internet for ever).</summary>
    [Fact]
    public async Task A_read_whose_answer_stops_mid_body_resumes_at_the_byte_it_reached()
    {
        using var proxy = new FaultProxy(ServerUrl, 23, 1.0, Fault.BodyStall) { StallTime = TimeSpan.FromSeconds(20), MaxFaults = 1 };
        var bucket = server.NewBucket();
        await using var direct = await S3ObjectStore.OpenAsync(S3StoreProvider.Location(bucket, server.Connection()), default);
        await using var store = await S3ObjectStore.OpenAsync(S3StoreProvider.Location(bucket,
            server.Connection() with { EndpointUrl = proxy.Url, IdleTimeout = TimeSpan.FromMilliseconds(300) }), default);
        var data = new byte[4 << 20];
        new Random(7).NextBytes(data);
        await direct.PutBytesAsync("blobs/sha256/stalled", data, ObjectClass.Blob, default);

        var read = new MemoryStream();
        await using (var stream = await store.OpenReadAsync("blobs/sha256/stalled", default)) await stream.CopyToAsync(read);

        Assert.Equal(1, proxy.Injected(Fault.BodyStall));
        Assert.Equal(2, proxy.Requests);
        Assert.Equal(data, read.ToArray());
    }
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureFaultTests(AzuriteServer server, ITestOutputHelper output) : StoreFaultTests(output)
{
    protected override string Backend => "Azure (Azurite)";
    protected override string ServerUrl => server.EndpointUrl;

    protected override async Task<(IObjectStore Proxied, IObjectStore Direct)> OpenAsync(string proxyUrl)
    {
        var container = server.NewContainer();
        var proxied = server.Connection() with { EndpointUrl = proxyUrl };
        return (await AzureObjectStore.OpenAsync(AzureStoreProvider.Location(container, proxied), proxied, default),
            await AzureObjectStore.OpenAsync(AzureStoreProvider.Location(container, server.Connection()), server.Connection(), default));
    }
}
