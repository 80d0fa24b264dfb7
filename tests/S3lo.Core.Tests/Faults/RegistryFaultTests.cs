using Xunit.Abstractions;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Registry;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Local;
using S3lo.Core.Tests.Gc;
using S3lo.Core.Tests.TestSupport;
using S3lo.Core.Transfer;

namespace S3lo.Core.Tests.Faults;

/// <summary>One Distribution registry for the fault tests.</summary>
public sealed class FaultRegistryFixture : IDisposable
{
    public RegistryServer Server { get; } = new();
    public void Dispose() => Server.Dispose();
}

/// <summary>
/// Push, pull, copy and tag listing against the Distribution registry behind a <see cref="FaultProxy"/>, on several
/// seeds; and the registry client's one attempt budget per operation, counted through the proxies.
/// </summary>
public sealed class RegistryFaultTests(FaultRegistryFixture fixture, ITestOutputHelper output) : IClassFixture<FaultRegistryFixture>, IDisposable
{
    private static readonly RegistryClientOptions Options = new() { UseDockerConfig = false, RetryDelay = TimeSpan.FromMilliseconds(50) };
    private readonly TempDir _dir = new();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Fault_injection_leaves_every_registry_operation_succeeded_or_named_and_nothing_half_written(int seed)
    {
        using var proxy = new FaultProxy($"http://{fixture.Server.Host}", seed);
        using var client = new RegistryClient(proxy.Host, Options);
        using var direct = new RegistryClient(fixture.Server.Host, Options);
        var run = new FaultScenario("Registry (Distribution)", proxy, output);
        await using var local = NewStore("source");
        var images = new (string Repository, TestImage Image)[] { ($"s{seed}/app", TestImage.Single()), ($"s{seed}/multi", TestImage.Index()) };
        foreach (var (repository, image) in images) await image.PublishAsync(local, repository, "v1");
        var pushed = new Dictionary<string, Digest>(StringComparer.Ordinal);

        foreach (var (repository, image) in images)
        {
            if (await run.RunAsync("push " + repository, async () =>
                {
                    await using var source = await StoreImageSource.OpenAsync(local, ImageReference.Create(local.Location, repository, "v1", null), null, default);
                    await using var destination = new RegistryDestination(client, RegistryReference.Parse($"{proxy.Host}/{repository}:v1"));
                    await ImageTransfer.CopyAsync(source, destination, null, null, default);
                }))
                pushed[repository] = image.Root.Digest;
            await AssertRegistryWholeAsync(run, direct, images.Select(i => i.Repository), pushed);
        }

        if (pushed.ContainsKey(images[1].Repository))
        {
            var copy = $"s{seed}/copy";
            if (await run.RunAsync("copy", async () =>
                {
                    await using var source = await RegistryImageSource.OpenAsync(client, RegistryReference.Parse($"{proxy.Host}/{images[1].Repository}:v1"), null, default);
                    await using var destination = new RegistryDestination(client, RegistryReference.Parse($"{proxy.Host}/{copy}:v1"));
                    await ImageTransfer.CopyAsync(source, destination, null, null, default);
                }))
                pushed[copy] = images[1].Image.Root.Digest;
            await AssertRegistryWholeAsync(run, direct, [.. images.Select(i => i.Repository), copy], pushed);
        }

        foreach (var (repository, image) in images.Where(i => pushed.ContainsKey(i.Repository)))
        {
            await using var pulled = NewStore("pulled");
            if (await run.RunAsync("pull " + repository, async () =>
                {
                    await using var source = await RegistryImageSource.OpenAsync(client, RegistryReference.Parse($"{proxy.Host}/{repository}:v1"), null, default);
                    await Transfers.PushAsync(source, pulled, repository, "v1");
                }))
                Assert.Equal(image.Root.Digest, (await pulled.GetTagAsync(repository, "v1", default)).Manifest.Digest);
            await run.AssertStoreIsWholeAsync(pulled);
        }

        var tags = new List<string>();
        if (await run.RunAsync("list", async () => { await foreach (var tag in client.ListTagsAsync(images[0].Repository, default)) tags.Add(tag); })
            && pushed.ContainsKey(images[0].Repository))
            Assert.Equal(["v1"], tags);

        run.Print();
    }

    /// <summary>Every tag of these repositories names a manifest whose blobs (an index's children too) the registry serves
    /// with the right bytes, read without faults; and every pushed tag has the digest pushed.</summary>
    private static async Task AssertRegistryWholeAsync(FaultScenario run, RegistryClient direct, IEnumerable<string> repositories,
        Dictionary<string, Digest> pushed)
    {
        foreach (var repository in repositories)
        {
            await foreach (var tag in direct.ListTagsAsync(repository, default))
            {
                var manifest = await direct.GetManifestAsync(repository, tag, default);
                if (pushed.TryGetValue(repository, out var digest)) Assert.Equal(digest, manifest.Digest);
                await AssertBlobsAsync(run, direct, repository, manifest);
            }
        }
    }

    private static async Task AssertBlobsAsync(FaultScenario run, RegistryClient direct, string repository, Manifest manifest)
    {
        foreach (var descriptor in manifest.References)
        {
            if (MediaTypes.IsManifest(descriptor.MediaType))
            {
                await AssertBlobsAsync(run, direct, repository, await direct.GetManifestAsync(repository, descriptor.Digest.ToString(), default));
                continue;
            }
            await using var stream = await direct.OpenBlobAsync(repository, descriptor, default);
            await stream.CopyToAsync(Stream.Null);
            run.BytesVerified += descriptor.Size;
        }
    }

    [Fact]
    public async Task A_manifest_read_makes_at_most_MaxAttempts_requests_through_errors_and_cut_off_bodies()
    {
        await using var local = NewStore("budget");
        await TestImage.Single().PublishAsync(local, "budget/app", "v1");
        await PushDirectAsync(local, "budget/app");
        using var proxy = new FaultProxy($"http://{fixture.Server.Host}", 11, 1.0, Fault.Unavailable, Fault.BodyCutOff);
        using var client = new RegistryClient(proxy.Host, Options with { MaxAttempts = 4 });

        var e = await Assert.ThrowsAsync<S3loException>(() => client.GetManifestAsync("budget/app", "v1", default));

        Assert.Contains(e.ErrorId, new[] { ErrorIds.TransferInterrupted, ErrorIds.RegistryError });
        Assert.Equal(4, proxy.Requests);
    }

    [Fact]
    public async Task A_blob_read_cut_off_every_time_gives_up_after_MaxAttempts_requests_as_TransferInterrupted()
    {
        await using var local = NewStore("drops");
        var image = TestImage.Single();
        await image.PublishAsync(local, "drops/app", "v1");
        await PushDirectAsync(local, "drops/app");
        using var proxy = new RegistryProxy(fixture.Server.Host) { DropBlobConnections = 100 };
        using var client = new RegistryClient(proxy.Host, Options with { MaxAttempts = 3 });
        var layer = image.ImageManifests.Single().Layers[0];

        var e = await ImageAssert.ThrowsS3loAsync(ErrorIds.TransferInterrupted, async () =>
        {
            await using var stream = await client.OpenBlobAsync("drops/app", layer, default);
            await stream.CopyToAsync(Stream.Null);
        });

        Assert.Equal(3, proxy.BlobRequests);
        Assert.Contains("bytes", e.Message);
    }

    [Fact]
    public async Task A_failing_upload_is_restarted_within_one_budget_and_a_4xx_answer_is_not_retried()
    {
        await using var local = NewStore("uploads");
        var image = TestImage.Single();
        await image.PublishAsync(local, "uploads/app", "v1");
        var layer = image.ImageManifests.Single().Layers[0];
        var bytes = image.Blobs[layer.Digest];
        Task<Stream> Open(CancellationToken _) => Task.FromResult<Stream>(new MemoryStream(bytes));

        using (var failing = new RegistryProxy(fixture.Server.Host) { FailBlobUploads = 100 })
        using (var client = new RegistryClient(failing.Host, Options with { MaxAttempts = 4 }))
        {
            var destination = new RegistryDestination(client, RegistryReference.Parse($"{failing.Host}/uploads/app:v1"));
            await ImageAssert.ThrowsS3loAsync(ErrorIds.RegistryError, () => destination.PutBlobAsync(layer, Open, _ => { }, default));
            // Each attempt is a POST for the session and the PUT: four requests in all, two of them uploads.
            Assert.Equal(2, failing.UploadPuts);
        }

        using var proxy = new RegistryProxy(fixture.Server.Host);
        using var honest = new RegistryClient(proxy.Host, Options with { MaxAttempts = 4 });
        var wrong = layer with { Digest = Digest.Compute([1, 2, 3]) };
        var target = new RegistryDestination(honest, RegistryReference.Parse($"{proxy.Host}/uploads/app:v1"));
        await ImageAssert.ThrowsS3loAsync(ErrorIds.RegistryError, () => target.PutBlobAsync(wrong, Open, _ => { }, default));
        Assert.Equal(1, proxy.UploadPuts);
    }

    [Fact]
    public async Task A_registry_that_always_fails_raises_only_named_S3lo_errors()
    {
        await using var local = NewStore("hostile");
        var image = TestImage.Single();
        await image.PublishAsync(local, "hostile/app", "v1");
        await PushDirectAsync(local, "hostile/app");
        using var proxy = new FaultProxy($"http://{fixture.Server.Host}", 13, 1.0, Fault.Unavailable, Fault.InternalError, Fault.ResetBeforeAnswer, Fault.BodyCutOff);
        using var client = new RegistryClient(proxy.Host, Options with { MaxAttempts = 3 });
        var layer = image.ImageManifests.Single().Layers[0];
        var calls = new (string Member, Func<Task> Call)[]
        {
            ("GetManifestAsync", () => client.GetManifestAsync("hostile/app", "v1", default)),
            ("GetManifestDigestAsync", () => client.GetManifestDigestAsync("hostile/app", "v1", default)),
            ("ManifestExistsAsync", () => client.ManifestExistsAsync("hostile/app", image.Root.Digest, default)),
            ("BlobExistsAsync", () => client.BlobExistsAsync("hostile/app", layer.Digest, default)),
            ("OpenBlobAsync", async () =>
            {
                await using var stream = await client.OpenBlobAsync("hostile/app", layer, default);
                await stream.CopyToAsync(Stream.Null);
            }),
            ("UploadBlobAsync", () => client.UploadBlobAsync("hostile/app", layer, _ => Task.FromResult<Stream>(new MemoryStream(image.Blobs[layer.Digest])), _ => { }, default)),
            ("PutManifestAsync", () => client.PutManifestAsync("hostile/app", "v2", image.Root, default)),
            ("ListTagsAsync", async () => { await foreach (var t in client.ListTagsAsync("hostile/app", default)) { } }),
            ("DeleteTagAsync", () => client.DeleteTagAsync("hostile/app", "v2", image.Root.Digest, false, default)),
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
        output.WriteLine($"Registry always failing: {proxy.Summary}");
        Assert.True(proxy.Requests <= calls.Length * 3 + 2, $"{proxy.Requests} requests for {calls.Length} operations of at most 3 attempts each");
    }

    [Fact]
    public async Task A_registry_that_stops_answering_is_given_up_after_MaxAttempts_idle_periods_as_RegistryUnreachable()
    {
        await using var local = NewStore("silent");
        var image = TestImage.Single();
        await image.PublishAsync(local, "silent/app", "v1");
        await PushDirectAsync(local, "silent/app");
        // Every request is held far longer than the client's idle time: without one, each would simply be answered late.
        using var proxy = new FaultProxy($"http://{fixture.Server.Host}", 17, 1.0, Fault.Stall) { StallTime = TimeSpan.FromSeconds(20) };
        using var client = new RegistryClient(proxy.Host, Options with { MaxAttempts = 3, IdleTimeout = TimeSpan.FromMilliseconds(300) });
        var layer = image.ImageManifests.Single().Layers[0];

        var manifest = await ImageAssert.ThrowsS3loAsync(ErrorIds.RegistryUnreachable, () => client.GetManifestAsync("silent/app", "v1", default));
        Assert.Contains("no answer", manifest.Message);
        Assert.Equal(3, proxy.Requests);

        // An upload whose answer never comes is restarted and given up the same way.
        await ImageAssert.ThrowsS3loAsync(ErrorIds.RegistryUnreachable,
            () => client.UploadBlobAsync("silent/app", layer, _ => Task.FromResult<Stream>(new MemoryStream(image.Blobs[layer.Digest])), _ => { }, default));
        Assert.Equal(6, proxy.Requests);
    }

    [Fact]
    public async Task A_blob_read_that_stops_mid_body_resumes_at_the_byte_it_reached_and_is_verified()
    {
        await using var local = NewStore("stalls");
        var image = TestImage.Single();
        await image.PublishAsync(local, "stalls/app", "v1");
        await PushDirectAsync(local, "stalls/app");
        // The first answer sends half the blob and then nothing for 20 s; the client's idle time is 300 ms.
        using var proxy = new FaultProxy($"http://{fixture.Server.Host}", 19, 1.0, Fault.BodyStall) { StallTime = TimeSpan.FromSeconds(20), MaxFaults = 1 };
        using var client = new RegistryClient(proxy.Host, Options with { IdleTimeout = TimeSpan.FromMilliseconds(300) });
        var layer = image.ImageManifests.Single().Layers[0];

        await using (var stream = await client.OpenBlobAsync("stalls/app", layer, default))
        {
            using var read = new MemoryStream();
            await stream.CopyToAsync(read);
            Assert.Equal(layer.Digest, Digest.Compute(read.ToArray()));
        }

        Assert.Equal(1, proxy.Injected(Fault.BodyStall));
        Assert.Equal(2, proxy.Requests);
    }

    private async Task PushDirectAsync(ImageStore local, string repository)
    {
        using var client = new RegistryClient(fixture.Server.Host, Options);
        await using var source = await StoreImageSource.OpenAsync(local, ImageReference.Create(local.Location, repository, "v1", null), null, default);
        await using var destination = new RegistryDestination(client, RegistryReference.Parse($"{fixture.Server.Host}/{repository}:v1"));
        await ImageTransfer.CopyAsync(source, destination, null, null, default);
    }

    private ImageStore NewStore(string name)
        => new(new LocalObjectStore(LocalStoreProvider.Location(_dir.File(name + "-" + Guid.NewGuid().ToString("N")[..8]))));

    public void Dispose() => _dir.Dispose();
}
