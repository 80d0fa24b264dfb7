using S3lo.Core.IO;
using System.Security.Cryptography;
using System.Text;
using S3lo.Core;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Storage;

/// <summary>The behaviour every object store must have, run against the local and the S3 store alike.</summary>
public abstract class StoreContractTests : IAsyncLifetime
{
    protected IObjectStore Store { get; private set; } = null!;

    protected abstract Task<IObjectStore> CreateStoreAsync();

    public async Task InitializeAsync() => Store = await CreateStoreAsync();

    public async Task DisposeAsync() => await Store.DisposeAsync();

    protected static byte[] RandomBytes(int length)
    {
        var data = new byte[length];
        Random.Shared.NextBytes(data);
        return data;
    }

    [Fact]
    public async Task SmallObjectsRoundTripWithMetadata()
    {
        var before = DateTimeOffset.UtcNow.AddMinutes(-5);
        await Store.PutBytesAsync("manifests/app/v1/manifest.json", "{\"a\":1}"u8.ToArray(), ObjectClass.Metadata, default);
        var stored = await Store.GetBytesAsync("manifests/app/v1/manifest.json", 1024, default);
        Assert.NotNull(stored);
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(stored.Bytes));
        var head = await Store.HeadAsync("manifests/app/v1/manifest.json", default);
        Assert.Equal(7, head!.Size);
        Assert.True(head.LastModified > before && head.LastModified < DateTimeOffset.UtcNow.AddMinutes(5));
    }

    [Fact]
    public async Task MissingObjectsAreReportedAsMissing()
    {
        Assert.Null(await Store.HeadAsync("blobs/sha256/" + new string('0', 64), default));
        Assert.Null(await Store.GetBytesAsync("manifests/none/v1/manifest.json", 1024, default));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync("blobs/sha256/" + new string('0', 64), default));
    }

    [Fact]
    public async Task ARangedReadReturnsExactlyTheBytesOfItsRange()
    {
        var data = RandomBytes(300_000);
        await Store.PutBytesAsync("blobs/sha256/ranged", data, ObjectClass.Blob, default);
        var ranged = Assert.IsAssignableFrom<IRangedReads>(Store);
        // Whole, from the start, in the middle, the last byte, and a length running past the end.
        foreach (var (offset, length) in ((long, long)[])[(0, data.Length), (0, 10), (123_457, 5000), (data.Length - 1, 1), (299_000, 5000)])
        {
            await using var stream = await ranged.OpenReadAsync("blobs/sha256/ranged", offset, length, default);
            var read = new MemoryStream();
            await stream.CopyToAsync(read);
            Assert.Equal(data.AsSpan((int)offset, (int)Math.Min(length, data.Length - offset)).ToArray(), read.ToArray());
        }
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => ranged.OpenReadAsync("blobs/sha256/" + new string('0', 64), 10, 10, default));
    }

    [Fact]
    public async Task GetBytesRefusesObjectsLargerThanAllowed()
    {
        await Store.PutBytesAsync("big", new byte[2048], ObjectClass.Metadata, default);
        var e = await Assert.ThrowsAnyAsync<S3loException>(() => Store.GetBytesAsync("big", 1024, default));
        Assert.Equal(ErrorIds.ObjectTooLarge, e.ErrorId);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    [InlineData(S3ObjectStore.PartSize)]
    [InlineData(S3ObjectStore.PartSize * 2 + 12345)]
    public async Task VerifiedPutsStoreExactlyTheBytes(int length)
    {
        var data = RandomBytes(length);
        var digest = Digest.Compute(data);
        long reported = 0;
        await Store.PutVerifiedAsync(StoreLayout.BlobKey(digest), new MemoryStream(data), digest, length, ObjectClass.Blob,
            n => Interlocked.Add(ref reported, n), default);
        Assert.Equal(length, reported);
        await using var read = await Store.OpenReadAsync(StoreLayout.BlobKey(digest), default);
        Assert.Equal(digest, await Digest.ComputeAsync(read, default));
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(S3ObjectStore.PartSize * 2 + 1)]
    public async Task AVerifiedPutOfWrongBytesLeavesNothing(int length)
    {
        var data = RandomBytes(length);
        var claimed = Digest.Compute(RandomBytes(16));
        var key = StoreLayout.BlobKey(claimed);
        var e = await Assert.ThrowsAnyAsync<S3loException>(() =>
            Store.PutVerifiedAsync(key, new MemoryStream(data), claimed, length, ObjectClass.Blob, null, default));
        Assert.Equal(ErrorIds.DigestMismatch, e.ErrorId);
        Assert.Null(await Store.HeadAsync(key, default));
        Assert.Empty(await ListAsync(""));
    }

    // The transfer engine hands stores a verifying stream of its own; the store hashes through it instead of again, and
    // still publishes nothing when the bytes do not match. A verifying stream checks only what it was made for: one for
    // other bytes (here, the bytes' own digest) is no proof for the digest claimed, and is checked again.
    [Theory]
    [InlineData(1000, true)]
    [InlineData(1000, false)]
    [InlineData(S3ObjectStore.PartSize * 2 + 1, true)]
    [InlineData(S3ObjectStore.PartSize * 2 + 1, false)]
    public async Task AVerifiedPutThroughAVerifyingStreamOfWrongBytesLeavesNothing(int length, bool streamForTheClaimedDigest)
    {
        var data = RandomBytes(length);
        var claimed = Digest.Compute(RandomBytes(16));
        var key = StoreLayout.BlobKey(claimed);
        await using var stream = new VerifyingReadStream(new MemoryStream(data), streamForTheClaimedDigest ? claimed : Digest.Compute(data), length, "blob in the source");
        var e = await Assert.ThrowsAnyAsync<S3loException>(() => Store.PutVerifiedAsync(key, stream, claimed, length, ObjectClass.Blob, null, default));
        Assert.Equal(ErrorIds.DigestMismatch, e.ErrorId);
        Assert.Null(await Store.HeadAsync(key, default));
        Assert.Empty(await ListAsync(""));
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(S3ObjectStore.PartSize * 2 + 12345)]
    public async Task AVerifiedPutThroughTheEnginesVerifyingStreamStoresExactlyTheBytes(int length)
    {
        var data = RandomBytes(length);
        var digest = Digest.Compute(data);
        await using var engine = new VerifyingReadStream(new MemoryStream(data), digest, length, "blob in the source");
        await Store.PutVerifiedAsync(StoreLayout.BlobKey(digest), engine, digest, length, ObjectClass.Blob, null, default);
        await using var read = await Store.OpenReadAsync(StoreLayout.BlobKey(digest), default);
        Assert.Equal(digest, await Digest.ComputeAsync(read, default));
    }

    [Fact]
    public async Task AVerifiedPutOfTheWrongLengthLeavesNothing()
    {
        var data = RandomBytes(5000);
        var digest = Digest.Compute(data);
        var e = await Assert.ThrowsAnyAsync<S3loException>(() =>
            Store.PutVerifiedAsync(StoreLayout.BlobKey(digest), new MemoryStream(data), digest, 4000, ObjectClass.Blob, null, default));
        Assert.Equal(ErrorIds.SizeMismatch, e.ErrorId);
        Assert.Empty(await ListAsync(""));
    }

    [Fact]
    public async Task ACancelledPutLeavesNothing()
    {
        var data = RandomBytes(S3ObjectStore.PartSize * 3);
        var digest = Digest.Compute(data);
        using var cts = new CancellationTokenSource();
        var slow = new CallbackStream(new MemoryStream(data), afterBytes: S3ObjectStore.PartSize + 1, cts.Cancel);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Store.PutVerifiedAsync(StoreLayout.BlobKey(digest), slow, digest, data.Length, ObjectClass.Blob, null, cts.Token));
        Assert.Empty(await ListAsync(""));
    }

    [Fact]
    public async Task ListingReturnsExactlyTheKeysUnderAPrefix()
    {
        string[] keys = ["manifests/app/v1/manifest.json", "manifests/app/v1/oci-layout", "manifests/app/v10/manifest.json",
            "manifests/app2/v1/manifest.json", "blobs/sha256/" + new string('a', 64)];
        foreach (var key in keys) await Store.PutBytesAsync(key, "x"u8.ToArray(), ObjectClass.Metadata, default);
        Assert.Equal(keys.Order(StringComparer.Ordinal), (await ListAsync("")).Order(StringComparer.Ordinal));
        Assert.Equal(["manifests/app/v1/manifest.json", "manifests/app/v1/oci-layout", "manifests/app/v10/manifest.json"],
            (await ListAsync("manifests/app/")).Order(StringComparer.Ordinal));
        Assert.Equal(["manifests/app/v1/manifest.json", "manifests/app/v1/oci-layout", "manifests/app/v10/manifest.json"],
            (await ListAsync("manifests/app/v1")).Order(StringComparer.Ordinal));
        Assert.Empty(await ListAsync("manifests/none/"));
    }

    [Fact]
    public async Task ListingPagesThroughMoreThanOneThousandKeys()
    {
        await System.Threading.Tasks.Parallel.ForEachAsync(Enumerable.Range(0, 1010), new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (i, ct) => await Store.PutBytesAsync($"many/{i:D5}", "x"u8.ToArray(), ObjectClass.Metadata, ct));
        Assert.Equal(1010, (await ListAsync("many/")).Distinct().Count());
    }

    [Fact]
    public async Task DeleteRemovesExactlyTheKeysGiven()
    {
        await Store.PutBytesAsync("manifests/app/v1/manifest.json", "x"u8.ToArray(), ObjectClass.Metadata, default);
        await Store.PutBytesAsync("manifests/app/v1/x/manifest.json", "x"u8.ToArray(), ObjectClass.Metadata, default);
        await Store.DeleteAsync(["manifests/app/v1/manifest.json", "manifests/app/v1/does-not-exist"], default);
        Assert.Equal(["manifests/app/v1/x/manifest.json"], await ListAsync(""));
    }

    [Fact]
    public async Task OverwritesReplaceTheWholeObject()
    {
        await Store.PutBytesAsync("s3lo.yaml", RandomBytes(4000), ObjectClass.Metadata, default);
        await Store.PutBytesAsync("s3lo.yaml", "short"u8.ToArray(), ObjectClass.Metadata, default);
        Assert.Equal("short", Encoding.UTF8.GetString((await Store.GetBytesAsync("s3lo.yaml", 10000, default))!.Bytes));
    }

    [Fact]
    public async Task OfRacingCreatesExactlyOneWins()
    {
        // Many rounds: a create-exclusive that is really check-then-write loses only now and then.
        for (var round = 0; round < 20; round++)
        {
            var key = $"manifests/app/r{round}/manifest.json";
            var attempts = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
            {
                try
                {
                    await Store.PutBytesAsync(key, Encoding.UTF8.GetBytes($"writer {i}"), ObjectClass.Metadata, WriteCondition.IfNotExists, default);
                    return i;
                }
                catch (PreconditionFailedException)
                {
                    return -1;
                }
            })).ToList();
            var winners = (await Task.WhenAll(attempts)).Where(i => i >= 0).ToList();
            Assert.Single(winners);
            Assert.Equal($"writer {winners[0]}", Encoding.UTF8.GetString((await Store.GetBytesAsync(key, 100, default))!.Bytes));
        }
        Assert.Equal(20, (await ListAsync("manifests/")).Count);
    }

    [Fact]
    public async Task AConditionalReplaceNeedsTheVersionItRead()
    {
        await Store.PutBytesAsync("s3lo.yaml", "a: 1"u8.ToArray(), ObjectClass.Metadata, default);
        var read = (await Store.GetBytesAsync("s3lo.yaml", 100, default))!;
        Assert.NotNull(read.Info.ETag);
        await Store.PutBytesAsync("s3lo.yaml", "a: 2"u8.ToArray(), ObjectClass.Metadata, WriteCondition.IfUnchanged(read.Info.ETag!), default);
        await Assert.ThrowsAsync<PreconditionFailedException>(() =>
            Store.PutBytesAsync("s3lo.yaml", "a: 3"u8.ToArray(), ObjectClass.Metadata, WriteCondition.IfUnchanged(read.Info.ETag!), default));
        Assert.Equal("a: 2", Encoding.UTF8.GetString((await Store.GetBytesAsync("s3lo.yaml", 100, default))!.Bytes));
    }

    [Fact]
    public async Task ConcurrentReadModifyWritesLoseNoUpdate()
    {
        await Store.PutBytesAsync("counter", "0"u8.ToArray(), ObjectClass.Metadata, default);
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            for (var done = 0; done < 4;)
            {
                var read = (await Store.GetBytesAsync("counter", 100, default))!;
                var next = int.Parse(Encoding.UTF8.GetString(read.Bytes)) + 1;
                try
                {
                    await Store.PutBytesAsync("counter", Encoding.UTF8.GetBytes(next.ToString()), ObjectClass.Metadata,
                        WriteCondition.IfUnchanged(read.Info.ETag!), default);
                    done++;
                }
                catch (PreconditionFailedException)
                {
                }
            }
        })));
        Assert.Equal("24", Encoding.UTF8.GetString((await Store.GetBytesAsync("counter", 100, default))!.Bytes));
    }

    /// <summary>
    /// The collector judges, then deletes; a touch between the two must save the object. The wait puts the touch in a
    /// later second than the judged LastModified, as S3 and Azure keep whole seconds.
    /// </summary>
    [Fact]
    public async Task DeleteIfUnchangedSparesWhatWasTouchedAfterTheJudgement()
    {
        var old = await PutContentAsync(10);
        var touched = await PutContentAsync(11);
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        var judged = new List<ObjectInfo>();
        foreach (var key in new[] { old, touched }) judged.Add((await Store.HeadAsync(key, default))!);

        Assert.True(await Store.TouchAsync(touched, default));
        var deleted = await Store.DeleteIfUnchangedAsync(judged, default);

        Assert.Equal([(old, 10L)], deleted.Select(d => (d.Key, d.Size)));
        Assert.Equal([touched], await ListAsync("blobs/"));
    }

    /// <summary>
    /// A push touches what it reuses twice (before its upload, after its publish); the second touch of a key may rely on what
    /// the first learnt of it, and must still refresh it, keep its bytes, and notice that the key was rewritten or deleted
    /// in between. The waits put each touch in a later second, as S3 and Azure keep whole seconds.
    /// </summary>
    [Fact]
    public async Task TouchingAKeyAgainRefreshesItAndNoticesARewriteOrADelete()
    {
        var key = await PutContentAsync(12);
        var bytes = (await Store.GetBytesAsync(key, 100, default))!.Bytes;
        Assert.True(await Store.TouchAsync(key, default));
        var first = (await Store.HeadAsync(key, default))!;
        await Task.Delay(TimeSpan.FromSeconds(1.1));

        Assert.True(await Store.TouchAsync(key, default));
        var second = (await Store.HeadAsync(key, default))!;
        Assert.True(second.LastModified > first.LastModified, $"{second.LastModified:O} after {first.LastModified:O}");
        Assert.Equal(bytes, (await Store.GetBytesAsync(key, 100, default))!.Bytes);
        Assert.Empty(await Store.DeleteIfUnchangedAsync([first], default));

        var rewritten = RandomBytes(7);
        await Store.PutBytesAsync(key, rewritten, ObjectClass.Blob, default);
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        var before = (await Store.HeadAsync(key, default))!;
        Assert.True(await Store.TouchAsync(key, default));
        Assert.True((await Store.HeadAsync(key, default))!.LastModified > before.LastModified);
        Assert.Equal(rewritten, (await Store.GetBytesAsync(key, 100, default))!.Bytes);

        await Store.DeleteAsync([key], default);
        Assert.False(await Store.TouchAsync(key, default));
        Assert.Null(await Store.HeadAsync(key, default));
    }

    private async Task<string> PutContentAsync(int length)
    {
        var data = RandomBytes(length);
        var digest = Digest.Compute(data);
        await Store.PutVerifiedAsync(StoreLayout.BlobKey(digest), new MemoryStream(data), digest, length, ObjectClass.Blob, null, default);
        return StoreLayout.BlobKey(digest);
    }

    /// <summary>
    /// Two publishes of different manifests to one tag of an immutable image, both held at their manifest write until both
    /// have got there, so each has made whatever check it makes before writing. A publish that checked for the tag and then
    /// wrote unconditionally would let both succeed; the create-only write lets exactly one.
    /// </summary>
    [Fact]
    public async Task OfTwoImmutablePublishesThatBothCheckedExactlyOneWins()
    {
        await Store.PutBytesAsync("s3lo.yaml", "default: { immutable: true }\n"u8.ToArray(), ObjectClass.Metadata, default);
        var paused = new PausingObjectStore(Store);
        var manifestKey = StoreLayout.ManifestKey("app", "v1");
        var arrived = 0;
        var bothArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        paused.BeforePutBytes = async key =>
        {
            if (key != manifestKey) return;
            if (Interlocked.Increment(ref arrived) == 2) bothArrived.SetResult();
            await bothArrived.Task.WaitAsync(TimeSpan.FromSeconds(60));
        };
        var images = new ImageStore(paused);
        Manifest[] manifests = [Gc.TestImage.Single().Root, Gc.TestImage.Single().Root];

        var outcomes = await Task.WhenAll(manifests.Select(m => Task.Run(async () =>
        {
            try
            {
                await images.PublishTagAsync("app", "v1", m, force: false, default);
                return null;
            }
            catch (S3loException e)
            {
                return e.ErrorId;
            }
        })));

        Assert.Equal(2, arrived);
        Assert.Equal(new string?[] { null, ErrorIds.TagImmutable }, outcomes.Order());
        var winner = manifests[Array.IndexOf(outcomes, null)];
        Assert.Equal(winner.Digest, (await images.GetTagAsync("app", "v1", default)).Manifest.Digest);
    }

    /// <summary>
    /// Deleting app:v1 removes exactly its keys: not the tags of an image named app/v1 (whose keys start with app:v1's
    /// folder), and of its signatures only those directly under signatures/, not the tags of an image app/v1/signatures.
    /// </summary>
    [Fact]
    public async Task DeletingATagRemovesExactlyItsOwnKeys()
    {
        var images = new ImageStore(Store);
        string[] own = [StoreLayout.ManifestKey("app", "v1"), StoreLayout.OciLayoutKey("app", "v1"), StoreLayout.SignaturesPrefix("app", "v1") + "sig-1",
            StoreLayout.TagPrefix("app", "v1") + "history.json"];
        string[] others = [StoreLayout.ManifestKey("app/v1", "v2"), StoreLayout.OciLayoutKey("app/v1", "v2"),
            StoreLayout.ManifestKey("app/v1/signatures", "v3"), StoreLayout.SignaturesPrefix("app/v1", "v2") + "sig-2", StoreLayout.ManifestKey("app", "v10")];
        foreach (var key in own.Concat(others)) await Store.PutBytesAsync(key, "{}"u8.ToArray(), ObjectClass.Metadata, default);

        await images.DeleteTagAsync("app", "v1", default);

        Assert.Equal(others.Order(StringComparer.Ordinal), (await ListAsync("manifests/")).Order(StringComparer.Ordinal));
    }

    protected async Task<List<string>> ListAsync(string prefix)
    {
        var keys = new List<string>();
        await foreach (var o in Store.ListAsync(prefix, default)) keys.Add(o.Key);
        return keys;
    }

    /// <summary>Runs a callback once a given number of bytes has been read, to cancel mid-transfer.</summary>
    protected sealed class CallbackStream(Stream inner, long afterBytes, Action callback) : Stream
    {
        private long _read;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            if (_read < afterBytes && _read + n >= afterBytes) callback();
            _read += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

public sealed class LocalStoreContractTests : StoreContractTests, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("s3lo-store-").FullName;

    protected override Task<IObjectStore> CreateStoreAsync() => Task.FromResult<IObjectStore>(new LocalObjectStore(LocalStoreProvider.Location(_dir)));

    [Fact]
    public async Task AFailedWriteLeavesNoTemporaryFile()
    {
        var claimed = Digest.Compute(RandomBytes(8));
        await Assert.ThrowsAnyAsync<S3loException>(() =>
            Store.PutVerifiedAsync(StoreLayout.BlobKey(claimed), new MemoryStream(RandomBytes(100)), claimed, 100, ObjectClass.Blob, null, default));
        Assert.Empty(Directory.EnumerateFiles(_dir, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task AWriteInProgressIsNotTakenForAnUnfinishedOne()
    {
        var data = RandomBytes(3 << 20);
        var digest = Digest.Compute(data);
        var unfinished = (IIncompleteWrites)Store;
        var listed = new List<IncompleteWrite>();
        var aborted = new List<bool>();
        // Halfway through the upload, a collection with no grace period lists the write and tries to abort it.
        var content = new CallbackStream(new MemoryStream(data), data.Length / 2, () =>
        {
            var writes = unfinished.ListIncompleteWritesAsync(default).ToBlockingEnumerable().ToList();
            listed.AddRange(writes);
            aborted.AddRange(writes.Select(w => unfinished.AbortIncompleteWriteAsync(w, default).GetAwaiter().GetResult()));
        });
        await Store.PutVerifiedAsync(StoreLayout.BlobKey(digest), content, digest, data.Length, ObjectClass.Blob, null, default);

        Assert.Single(listed);
        Assert.Equal([false], aborted);
        await using var read = await Store.OpenReadAsync(StoreLayout.BlobKey(digest), default);
        Assert.Equal(digest, await Digest.ComputeAsync(read, default));
    }

    [Fact]
    public async Task DeletingTheLastObjectOfATagRemovesItsEmptyFolders()
    {
        await Store.PutBytesAsync("manifests/org/app/v1/manifest.json", "x"u8.ToArray(), ObjectClass.Metadata, default);
        await Store.DeleteAsync(["manifests/org/app/v1/manifest.json"], default);
        Assert.False(Directory.Exists(Path.Combine(_dir, "manifests", "org")));
        Assert.True(Directory.Exists(_dir));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

[Collection(RgwCollection.Name)]
public sealed class S3StoreContractTests(RgwServer server) : StoreContractTests
{
    protected override async Task<IObjectStore> CreateStoreAsync()
        => await S3ObjectStore.OpenAsync(S3StoreProvider.Location(server.NewBucket(), server.Connection("INTELLIGENT_TIERING", "STANDARD")), default);

    [Fact]
    public async Task BlobsAndMetadataGetTheirStorageClasses()
    {
        var data = RandomBytes(100);
        var digest = Digest.Compute(data);
        await Store.PutVerifiedAsync(StoreLayout.BlobKey(digest), new MemoryStream(data), digest, 100, ObjectClass.Blob, null, default);
        var big = RandomBytes(S3ObjectStore.PartSize + 10);
        var bigDigest = Digest.Compute(big);
        await Store.PutVerifiedAsync(StoreLayout.BlobKey(bigDigest), new MemoryStream(big), bigDigest, big.Length, ObjectClass.Blob, null, default);
        await Store.PutBytesAsync("manifests/app/v1/manifest.json", "{}"u8.ToArray(), ObjectClass.Metadata, default);
        Assert.Equal("INTELLIGENT_TIERING", (await Store.HeadAsync(StoreLayout.BlobKey(digest), default))!.StorageClass);
        Assert.Equal("INTELLIGENT_TIERING", (await Store.HeadAsync(StoreLayout.BlobKey(bigDigest), default))!.StorageClass);
        Assert.Contains((await Store.HeadAsync("manifests/app/v1/manifest.json", default))!.StorageClass, new[] { null, "STANDARD" });
    }

    [Fact]
    public async Task ACustomEndpointGetsNoStorageClassUnlessAskedFor()
    {
        await using var plain = await S3ObjectStore.OpenAsync(S3StoreProvider.Location(server.NewBucket(), server.Connection()), default);
        var data = RandomBytes(100);
        var digest = Digest.Compute(data);
        await plain.PutVerifiedAsync(StoreLayout.BlobKey(digest), new MemoryStream(data), digest, 100, ObjectClass.Blob, null, default);
        Assert.Contains((await plain.HeadAsync(StoreLayout.BlobKey(digest), default))!.StorageClass, new[] { null, "STANDARD" });
    }

    [Fact]
    public async Task WrongCredentialsAreReportedAsAccessDenied()
    {
        var connection = server.Connection() with { SecretKey = "wrong" };
        await using var store = await S3ObjectStore.OpenAsync(S3StoreProvider.Location(server.NewBucket(), connection), default);
        var e = await Assert.ThrowsAnyAsync<S3loException>(() => store.PutBytesAsync("x", "x"u8.ToArray(), ObjectClass.Metadata, default));
        Assert.Equal(ErrorIds.StoreAccessDenied, e.ErrorId);
    }

    [Fact]
    public async Task AMissingBucketIsReportedAsStoreNotFound()
    {
        await using var store = await S3ObjectStore.OpenAsync(S3StoreProvider.Location("no-such-bucket-here", server.Connection()), default);
        var e = await Assert.ThrowsAnyAsync<S3loException>(async () => { await foreach (var _ in store.ListAsync("", default)) { } });
        Assert.Equal(ErrorIds.StoreNotFound, e.ErrorId);
    }

    [Fact]
    public async Task AnUnreachableEndpointIsReportedAsUnreachable()
    {
        var connection = server.Connection() with { EndpointUrl = "http://127.0.0.1:9" };
        await using var store = await S3ObjectStore.OpenAsync(S3StoreProvider.Location("bucket", connection), default);
        var e = await Assert.ThrowsAnyAsync<S3loException>(() => store.HeadAsync("x", default));
        Assert.Equal(ErrorIds.StoreUnreachable, e.ErrorId);
    }
}
