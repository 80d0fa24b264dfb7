using System.Text;
using System.Text.Json;
using Azure.Storage;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Sas;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Azure;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Storage;

[Collection(AzuriteCollection.Name)]
public sealed class AzureStoreContractTests(AzuriteServer server) : StoreContractTests
{
    private string _container = "";

    protected override async Task<IObjectStore> CreateStoreAsync()
    {
        _container = server.NewContainer();
        return await OpenAsync(_container, server.Connection());
    }

    private static async Task<IObjectStore> OpenAsync(string container, AzureConnectionOptions options)
        => await AzureObjectStore.OpenAsync(AzureStoreProvider.Location(container, options), options, default);

    private async Task<Digest> PutBlobAsync(int length)
    {
        var data = RandomBytes(length);
        var digest = Digest.Compute(data);
        await Store.PutVerifiedAsync(StoreLayout.BlobKey(digest), new MemoryStream(data), digest, length, ObjectClass.Blob, null, default);
        return digest;
    }

    [Fact]
    public async Task BlobsAreCoolAndMetadataIsHotInHeadsAndListings()
    {
        var small = await PutBlobAsync(100);
        var big = await PutBlobAsync(AzureObjectStore.BlockSize + 10);
        await Store.PutBytesAsync("manifests/app/v1/manifest.json", "{}"u8.ToArray(), ObjectClass.Metadata, default);
        await Store.PutBytesAsync(StoreLayout.ChunkKey(small), "x"u8.ToArray(), ObjectClass.Blob, default);

        Assert.Equal("Cool", (await Store.HeadAsync(StoreLayout.BlobKey(small), default))!.StorageClass);
        Assert.Equal("Cool", (await Store.HeadAsync(StoreLayout.BlobKey(big), default))!.StorageClass);
        Assert.Equal("Hot", (await Store.HeadAsync("manifests/app/v1/manifest.json", default))!.StorageClass);
        // Azure states the tier on a GET only from recent service versions on; Azurite 3.37 does not.
        Assert.Contains((await Store.GetBytesAsync("manifests/app/v1/manifest.json", 100, default))!.Info.StorageClass, new[] { null, "Hot" });
        var listed = new Dictionary<string, string?>();
        await foreach (var o in Store.ListAsync("", default)) listed[o.Key] = o.StorageClass;
        Assert.Equal(new Dictionary<string, string?>
        {
            [StoreLayout.BlobKey(small)] = "Cool", [StoreLayout.BlobKey(big)] = "Cool", [StoreLayout.ChunkKey(small)] = "Cool",
            ["manifests/app/v1/manifest.json"] = "Hot",
        }, listed);
    }

    [Fact]
    public async Task TiersAreConfigurable()
    {
        var options = server.Connection() with { BlobTier = "Cold", MetadataTier = "Cool" };
        await using var store = await OpenAsync(server.NewContainer(), options);
        await store.PutBytesAsync("blobs/sha256/" + new string('a', 64), "x"u8.ToArray(), ObjectClass.Blob, default);
        await store.PutBytesAsync("s3lo.yaml", "x"u8.ToArray(), ObjectClass.Metadata, default);
        Assert.Equal("Cold", (await store.HeadAsync("blobs/sha256/" + new string('a', 64), default))!.StorageClass);
        Assert.Equal("Cool", (await store.HeadAsync("s3lo.yaml", default))!.StorageClass);
    }

    [Fact]
    public async Task TheArchiveTierIsRefused()
    {
        var options = server.Connection() with { BlobTier = "Archive" };
        var e = await Assert.ThrowsAnyAsync<S3loException>(() => OpenAsync(server.NewContainer(), options));
        Assert.Equal(ErrorIds.InvalidArgument, e.ErrorId);
    }

    // A source that cannot be read again from its start (another store, a registry) is staged in blocks; one that can
    // (a file) goes up as one Put Blob, which the contract's tests of wrong bytes cover.
    [Fact]
    public async Task ALargeBlobFromASourceReadOnceIsCommittedFromBlocksOnlyAfterItsDigestMatched()
    {
        var length = AzureObjectStore.BlockSize * 2 + 777;
        var data = RandomBytes(length);
        var digest = Digest.Compute(data);
        long reported = 0;
        await Store.PutVerifiedAsync(StoreLayout.BlobKey(digest), new CallbackStream(new MemoryStream(data), length, () => { }), digest, length,
            ObjectClass.Blob, n => Interlocked.Add(ref reported, n), default);

        Assert.Equal(length, reported);
        BlockList blocks = await server.Client(_container).GetBlockBlobClient(StoreLayout.BlobKey(digest)).GetBlockListAsync();
        Assert.Equal([AzureObjectStore.BlockSize, AzureObjectStore.BlockSize, 777], blocks.CommittedBlocks.Select(b => b.SizeLong));
        await using var read = await Store.OpenReadAsync(StoreLayout.BlobKey(digest), default);
        Assert.Equal(length, read.Length);
        Assert.Equal(digest, await Digest.ComputeAsync(read, default));
    }

    [Fact]
    public async Task ALargeBlobOfWrongBytesStagesBlocksButCommitsNothing()
    {
        var length = AzureObjectStore.BlockSize * 2 + 1;
        var claimed = Digest.Compute(RandomBytes(16));
        var key = StoreLayout.BlobKey(claimed);
        var e = await Assert.ThrowsAnyAsync<S3loException>(() =>
            Store.PutVerifiedAsync(key, new CallbackStream(new MemoryStream(RandomBytes(length)), length, () => { }), claimed, length, ObjectClass.Blob, null, default));

        Assert.Equal(ErrorIds.DigestMismatch, e.ErrorId);
        Assert.Null(await Store.HeadAsync(key, default));
        var everything = new List<string>();
        await foreach (var item in server.Client(_container).GetBlobsAsync(new GetBlobsOptions { States = BlobStates.All })) everything.Add(item.Name);
        Assert.All(everything, name => Assert.Equal(key, name));
        Assert.Empty(await ListAsync(""));
    }

    [Fact]
    public async Task TwoWritersOfTheSameLargeBlobBothSucceed()
    {
        var length = AzureObjectStore.BlockSize * 3 + 5;
        var data = RandomBytes(length);
        var digest = Digest.Compute(data);
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
            Store.PutVerifiedAsync(StoreLayout.BlobKey(digest), new MemoryStream(data), digest, length, ObjectClass.Blob, null, default))));
        await using var read = await Store.OpenReadAsync(StoreLayout.BlobKey(digest), default);
        Assert.Equal(digest, await Digest.ComputeAsync(read, default));
    }

    [Fact]
    public async Task ATouchRenewsLastModifiedAndETagButNotTheBytesOrTier()
    {
        var digest = await PutBlobAsync(1000);
        var key = StoreLayout.BlobKey(digest);
        var before = (await Store.HeadAsync(key, default))!;
        await Task.Delay(TimeSpan.FromSeconds(1.1));

        Assert.True(await Store.TouchAsync(key, default));

        var after = (await Store.HeadAsync(key, default))!;
        Assert.True(after.LastModified > before.LastModified, $"{after.LastModified:O} is not after {before.LastModified:O}");
        Assert.NotEqual(before.ETag, after.ETag);
        Assert.Equal(("Cool", 1000L), (after.StorageClass, after.Size));
        await using var read = await Store.OpenReadAsync(key, default);
        Assert.Equal(digest, await Digest.ComputeAsync(read, default));
        Assert.False(await Store.TouchAsync("blobs/sha256/" + new string('0', 64), default));
    }

    [Fact]
    public async Task TheClockIsTheServicesDateHeader()
    {
        var clock = await Store.GetClockAsync(default);
        Assert.InRange(clock, DateTimeOffset.UtcNow.AddSeconds(-5), DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.Equal(0, clock.Millisecond);
    }

    [Fact]
    public async Task AWrongKeyIsReportedAsAccessDenied()
    {
        var options = server.Connection() with { AccountKey = Convert.ToBase64String(RandomBytes(64)) };
        await using var store = await OpenAsync(_container, options);
        var e = await Assert.ThrowsAnyAsync<S3loException>(() => store.PutBytesAsync("x", "x"u8.ToArray(), ObjectClass.Metadata, default));
        Assert.Equal(ErrorIds.StoreAccessDenied, e.ErrorId);
        e = await Assert.ThrowsAnyAsync<S3loException>(() => store.HeadAsync("x", default));
        Assert.Equal(ErrorIds.StoreAccessDenied, e.ErrorId);
    }

    [Fact]
    public async Task AMissingContainerIsReportedAsStoreNotFound()
    {
        await using var store = await OpenAsync("no-such-container-here", server.Connection());
        var e = await Assert.ThrowsAnyAsync<S3loException>(async () => { await foreach (var _ in store.ListAsync("", default)) { } });
        Assert.Equal(ErrorIds.StoreNotFound, e.ErrorId);
        e = await Assert.ThrowsAnyAsync<S3loException>(() => store.PutBytesAsync("x", "x"u8.ToArray(), ObjectClass.Metadata, default));
        Assert.Equal(ErrorIds.StoreNotFound, e.ErrorId);
        e = await Assert.ThrowsAnyAsync<S3loException>(() => store.GetBytesAsync("x", 100, default));
        Assert.Equal(ErrorIds.StoreNotFound, e.ErrorId);
        e = await Assert.ThrowsAnyAsync<S3loException>(() => store.HeadAsync("x", default));
        Assert.Equal(ErrorIds.StoreNotFound, e.ErrorId);
    }

    [Fact]
    public async Task AnUnreachableEndpointIsReportedAsUnreachable()
    {
        var options = server.Connection() with { EndpointUrl = $"http://127.0.0.1:{TestPorts.Free()}/{AzuriteServer.AccountName}" };
        await using var store = await OpenAsync("container", options);
        var e = await Assert.ThrowsAnyAsync<S3loException>(() => store.HeadAsync("x", default));
        Assert.Equal(ErrorIds.StoreUnreachable, e.ErrorId);
    }

    [Fact]
    public async Task AConnectionStringIsEnough()
    {
        var options = new AzureConnectionOptions
        {
            AccountName = null,
            ConnectionString = $"DefaultEndpointsProtocol=http;AccountName={AzuriteServer.AccountName};AccountKey={AzuriteServer.AccountKey};BlobEndpoint={server.EndpointUrl};",
        };
        await using var store = await OpenAsync(_container, options);
        await store.PutBytesAsync("s3lo.yaml", "a: 1"u8.ToArray(), ObjectClass.Metadata, default);
        Assert.Equal("a: 1", Encoding.UTF8.GetString((await Store.GetBytesAsync("s3lo.yaml", 100, default))!.Bytes));
    }

    [Fact]
    public async Task ASasTokenIsEnoughAndNoSecretShowsInTheOptions()
    {
        var sas = new BlobSasBuilder(BlobContainerSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1)) { BlobContainerName = _container }
            .ToSasQueryParameters(new StorageSharedKeyCredential(AzuriteServer.AccountName, AzuriteServer.AccountKey)).ToString();
        var options = new AzureConnectionOptions { AccountName = null, ConnectionString = null, EndpointUrl = server.EndpointUrl, SasToken = "?" + sas };
        await using var store = await OpenAsync(_container, options);
        await store.PutBytesAsync("s3lo.yaml", "a: 1"u8.ToArray(), ObjectClass.Metadata, default);
        Assert.Equal("a: 1", Encoding.UTF8.GetString((await Store.GetBytesAsync("s3lo.yaml", 100, default))!.Bytes));

        var withKey = server.Connection() with { ConnectionString = "AccountKey=" + AzuriteServer.AccountKey };
        foreach (var shown in new[] { options.ToString(), JsonSerializer.Serialize(options), withKey.ToString(), JsonSerializer.Serialize(withKey),
                     AzureStoreProvider.Location(_container, withKey).ToString(), JsonSerializer.Serialize(AzureStoreProvider.Location(_container, options)) })
        {
            Assert.DoesNotContain("sig=", shown);
            Assert.DoesNotContain(AzuriteServer.AccountKey, shown);
        }
    }

    [Fact]
    public async Task AnIdentitySignInIsRefusedOverPlainHttpBeforeAnythingIsSent()
    {
        var options = new AzureConnectionOptions { AccountName = null, ConnectionString = null, EndpointUrl = server.EndpointUrl };
        var e = await Assert.ThrowsAnyAsync<S3loException>(() => OpenAsync("container", options));
        Assert.Equal(ErrorIds.CredentialsNotFound, e.ErrorId);
    }

    [Fact]
    public async Task WithoutAnAccountTheErrorSaysSo()
    {
        var options = new AzureConnectionOptions { AccountName = null, ConnectionString = null };
        var e = await Assert.ThrowsAnyAsync<S3loException>(() => OpenAsync("container", options));
        Assert.Equal(ErrorIds.StorageAccountRequired, e.ErrorId);
        Assert.Contains("AZURE_STORAGE_ACCOUNT", e.Message);
    }
}

/// <summary>What an <c>az://</c> store location accepts and how it prints; no server needed.</summary>
public sealed class AzureStoreLocationTests
{
    [Fact]
    public void AContainerPrintsAsAnAzReference()
    {
        var location = AzureStoreProvider.Location("my-images", null);
        Assert.Equal("az://my-images/", location.ToString());
        Assert.Equal("az", location.Scheme);
        Assert.Equal("my-images", location.Root);
        Assert.IsType<AzureConnectionOptions>(location.Settings);
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("My-images")]
    [InlineData("-images")]
    [InlineData("images-")]
    [InlineData("my--images")]
    [InlineData("my.images")]
    [InlineData("my_images")]
    public void InvalidContainerNamesAreRefused(string container)
    {
        var e = Assert.Throws<S3loException>(() => AzureStoreProvider.Location(container, null));
        Assert.Equal(ErrorIds.InvalidReference, e.ErrorId);
    }

    [Fact]
    public void TheLongestValidContainerNameIsAccepted()
        => Assert.Equal(63, AzureStoreProvider.Location(new string('a', 63), null).Root.Length);

    [Fact]
    public void AnAzReferenceNamesTheContainerAndTheImageWithTheGivenAccount()
    {
        var options = new AzureConnectionOptions { AccountName = "acct" };
        var r = ImageReference.Parse("az://images/team/app:v1", new StoreContext(Path.GetFullPath, options));
        Assert.Equal("az://images/", r.Store.ToString());
        Assert.Equal(("team/app", "v1"), (r.Name, r.Tag));
        Assert.Same(options, r.Store.Settings);
        Assert.True(ImageReference.Parse("az://images/", StoreContext.Default).IsStoreOnly);
        Assert.Equal(ErrorIds.InvalidReference, Assert.Throws<S3loException>(() => ImageReference.ParseStore("az://images/app", StoreContext.Default)).ErrorId);
    }

    [Fact]
    public void TheTiersDefaultToCoolAndHot()
    {
        var options = new AzureConnectionOptions();
        Assert.Equal(("Cool", "Hot"), (options.BlobTier, options.MetadataTier));
    }
}
