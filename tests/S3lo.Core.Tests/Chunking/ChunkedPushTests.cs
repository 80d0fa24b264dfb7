using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using S3lo.Core.Chunking;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Azure;
using S3lo.Core.Tests.TestSupport;
using S3lo.Core.Transfer;

namespace S3lo.Core.Tests.Chunking;

/// <summary>
/// Pushes into a store whose policy chunks layers (docs/format.md, "Chunking"), judged by what the store holds and what it
/// received (<see cref="CountingObjectStore"/>): chunks the zstd CLI reads, recipe and file index against the raw tar,
/// chunk_format stamped, unchanged work not redone, bad input refused before anything is written.
/// </summary>
public abstract class ChunkedPushTests : IAsyncLifetime
{
    private readonly List<ImageStore> _stores = [];
    private readonly TempDir _dir = new();

    protected abstract Task<IObjectStore> CreateObjectStoreAsync();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores) await store.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task A_large_layer_is_stored_as_zstd_chunks_with_a_recipe_and_file_index_matching_the_raw_tar()
    {
        var (store, counted) = await NewStoreAsync();
        await store.Objects.PutBytesAsync("s3lo.yaml", "# our store\nowner: team-a\n"u8.ToArray(), ObjectClass.Metadata, default);
        var image = new TarLayerImage();

        var result = await Transfers.PushAsync(image, store, "app", "v1");

        // s3lo.yaml gets chunk_format before the first chunk, and keeps what it held.
        var keys = counted.Keys.ToList();
        Assert.True(keys.IndexOf("s3lo.yaml") < keys.FindIndex(k => k.StartsWith(StoreLayout.ChunksPrefix, StringComparison.Ordinal)));
        var yaml = Encoding.UTF8.GetString((await store.Objects.GetBytesAsync("s3lo.yaml", 1 << 20, default))!.Bytes);
        Assert.Equal("# our store\nowner: team-a\nchunk_format: 1\n", yaml);

        var manifest = (await store.GetTagAsync("app", "v1", default)).Manifest;
        var layer = Assert.Single(manifest.Layers);
        Assert.Equal(MediaTypes.OciLayerZstd, layer.MediaType);
        Assert.Equal(image.Config, manifest.Config);
        Assert.False(await store.BlobExistsAsync(image.Layer.Digest, default));
        Assert.False(await store.BlobExistsAsync(layer.Digest, default));

        var recipe = JsonDocument.Parse((await store.Objects.GetBytesAsync(StoreLayout.RecipeKey(layer.Digest), 1 << 20, default))!.Bytes).RootElement;
        Assert.Equal(["layer", "size", "compressedDigest", "compressedSize", "chunks"], recipe.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Digest.Compute(image.RawLayer).Hex, recipe.GetProperty("layer").GetString());
        Assert.Equal(image.RawLayer.Length, recipe.GetProperty("size").GetInt64());
        Assert.Equal(layer.Digest.Hex, recipe.GetProperty("compressedDigest").GetString());
        Assert.Equal(layer.Size, recipe.GetProperty("compressedSize").GetInt64());
        var cuts = FastCdc.Cuts(image.RawLayer).ToList();
        var chunks = recipe.GetProperty("chunks").EnumerateArray().ToList();
        Assert.Equal(cuts.Count, chunks.Count);
        var frames = new List<byte>();
        var offset = 0;
        for (var i = 0; i < cuts.Count; i++)
        {
            var raw = image.RawLayer.AsSpan(offset, cuts[i]).ToArray();
            offset += cuts[i];
            Assert.Equal(["digest", "size", "compressedSize"], chunks[i].EnumerateObject().Select(p => p.Name));
            Assert.Equal(Digest.Compute(raw).Hex, chunks[i].GetProperty("digest").GetString());
            Assert.Equal(raw.Length, chunks[i].GetProperty("size").GetInt64());
            var frame = (await store.Objects.GetBytesAsync(StoreLayout.ChunkKey(Digest.Compute(raw)), 64 << 20, default))!.Bytes;
            Assert.Equal(frame.Length, chunks[i].GetProperty("compressedSize").GetInt64());
            Assert.Equal(raw, ZstdCli(frame));
            frames.AddRange(frame);
        }
        Assert.Equal(layer.Digest, Digest.Compute(frames.ToArray()));
        Assert.Equal(image.RawLayer, ZstdCli(frames.ToArray()));

        var index = JsonDocument.Parse(ZstdCli((await store.Objects.GetBytesAsync(StoreLayout.IndexKey(layer.Digest), 1 << 20, default))!.Bytes)).RootElement;
        Assert.Equal(Digest.Compute(image.RawLayer).Hex, index.GetProperty("layer").GetString());
        var files = index.GetProperty("files").EnumerateArray().ToList();
        Assert.Equal(["big/first.bin", TarLayerImage.ConfigFile, "big/second.bin", "bin/sh", "big/again.bin"], files.Select(f => f.GetProperty("path").GetString()));
        foreach (var file in files.Take(3))
        {
            var data = image.Files[file.GetProperty("path").GetString()!];
            Assert.Equal(data.Length, file.GetProperty("size").GetInt64());
            Assert.Equal(data, image.RawLayer.AsSpan((int)file.GetProperty("offset").GetInt64(), data.Length).ToArray());
            Assert.False(file.TryGetProperty("link", out _));
        }
        Assert.Equal("/bin/busybox", files[3].GetProperty("link").GetString());
        Assert.Equal("big/first.bin", files[4].GetProperty("link").GetString());
        Assert.False(files[3].TryGetProperty("offset", out _));

        Assert.Equal((cuts.Count, 0), (result.ChunksUploaded, result.ChunksReused));
        Assert.Equal((image.RawLayer.Length, layer.Size), (result.BytesBeforeCompression, result.BytesAfterCompression));
        Assert.Equal(manifest.Digest.ToString(), result.Digest);
        Assert.Equal(cuts.Count, counted.WritesUnder(StoreLayout.ChunksPrefix));
        Assert.Equal(1, counted.WritesUnder(StoreLayout.LayersPrefix));
    }

    /// <summary>
    /// An unchanged image pushed again, under a new tag and under its own, sends exactly these requests (docs/format.md,
    /// "Pushes and collections running together"): the policy; for the layer its <c>layers/</c> entry and a touch of its recipe
    /// alone, before the upload and after the publish (the collector keeps what a kept recipe names, so no chunk is touched);
    /// the config touched likewise; and the tag's two create-only writes, or for the existing tag the replacing write and the
    /// listing of its signature records. Nothing is read back, nothing compressed, no chunk or index asked for.
    /// </summary>
    [Fact]
    public async Task An_unchanged_push_again_even_under_a_new_tag_writes_only_the_tag_and_compresses_nothing()
    {
        var (store, counted) = await NewStoreAsync();
        var image = new TarLayerImage();
        var first = await Transfers.PushAsync(image, store, "app", "v1");
        var layer = (await store.GetTagAsync("app", "v1", default)).Manifest.Layers[0];
        Assert.True(first.ChunksUploaded >= 4);
        string[] lookups =
        [
            "Get s3lo.yaml", "Get " + StoreLayout.LayerKey(Digest.Compute(image.RawLayer)),
            "Touch " + StoreLayout.RecipeKey(layer.Digest), "Touch " + StoreLayout.BlobKey(image.Config.Digest),
        ];
        string[] refreshes = ["Touch " + StoreLayout.RecipeKey(layer.Digest), "Touch " + StoreLayout.BlobKey(image.Config.Digest)];

        foreach (var (tag, publish) in new[]
                 {
                     ("v2", new[] { "PutIf " + StoreLayout.OciLayoutKey("app", "v2"), "PutIf " + StoreLayout.ManifestKey("app", "v2") }),
                     ("v1", ["PutIf " + StoreLayout.OciLayoutKey("app", "v1"), "Put " + StoreLayout.ManifestKey("app", "v1"),
                             "List " + StoreLayout.SignaturesPrefix("app", "v1")]),
                 })
        {
            counted.Reset();
            var again = await Transfers.PushAsync(image, store, "app", tag);

            Assert.Equal(first.Digest, again.Digest);
            Assert.Equal((0, first.ChunksUploaded, 0L), (again.ChunksUploaded, again.ChunksReused, again.BytesUploaded));
            Assert.Equal((first.BytesBeforeCompression, first.BytesAfterCompression), (again.BytesBeforeCompression, again.BytesAfterCompression));
            Assert.Equal((0, 2, 0), (again.BlobsUploaded, again.BlobsSkipped, again.BlobsRestored));
            Console.WriteLine($"{GetType().Name} unchanged push to {tag}: {counted.Requests.Count} requests: {string.Join(" | ", counted.Requests)}");
            Assert.Equal(lookups.Length + publish.Length + refreshes.Length, counted.Requests.Count);
            Assert.Equal(lookups.Order(StringComparer.Ordinal), counted.Requests.Take(lookups.Length).Order(StringComparer.Ordinal));
            Assert.Equal(publish, counted.Requests.Skip(lookups.Length).Take(publish.Length));
            Assert.Equal(refreshes.Order(StringComparer.Ordinal), counted.Requests.Skip(lookups.Length + publish.Length).Order(StringComparer.Ordinal));
            await AssertReadsBackAsync(store, tag, image.RawLayer);
        }
    }

    /// <summary>A layer entry written before entries recorded the raw size and chunk count still finds the layer: its recipe
    /// is read once for what the push reports, and nothing is chunked again.</summary>
    [Fact]
    public async Task A_layer_entry_without_the_chunk_count_finds_the_layer_through_its_recipe()
    {
        var (store, counted) = await NewStoreAsync();
        var image = new TarLayerImage();
        var first = await Transfers.PushAsync(image, store, "app", "v1");
        var layer = (await store.GetTagAsync("app", "v1", default)).Manifest.Layers[0];
        var diffId = Digest.Compute(image.RawLayer);
        await store.Objects.PutBytesAsync(StoreLayout.LayerKey(diffId),
            Encoding.UTF8.GetBytes($"{{\"layer\":\"{diffId.Hex}\",\"compressedDigest\":\"{layer.Digest.Hex}\",\"compressedSize\":{layer.Size}}}"),
            ObjectClass.Metadata, default);
        counted.Reset();

        var again = await Transfers.PushAsync(image, store, "app", "v2");

        Assert.Equal(first.Digest, again.Digest);
        Assert.Equal((0, first.ChunksUploaded, first.BytesBeforeCompression), (again.ChunksUploaded, again.ChunksReused, again.BytesBeforeCompression));
        Assert.Equal([StoreLayout.RecipeKey(layer.Digest)], counted.ReadsUnder(StoreLayout.RecipesPrefix));
        Assert.Empty(counted.ReadsUnder(StoreLayout.ChunksPrefix));
        Assert.Equal(0, counted.WritesUnder(StoreLayout.ChunksPrefix));
    }

    [Fact]
    public async Task A_one_file_edit_in_a_large_layer_uploads_at_most_two_chunks()
    {
        var (store, counted) = await NewStoreAsync();
        await Transfers.PushAsync(new TarLayerImage(config: "version=1\n"), store, "app", "v1");
        counted.Reset();

        var result = await Transfers.PushAsync(new TarLayerImage(config: "version=22\n"), store, "app", "v2");

        Assert.InRange(counted.WritesUnder(StoreLayout.ChunksPrefix), 1, 2);
        Assert.Equal(counted.WritesUnder(StoreLayout.ChunksPrefix), result.ChunksUploaded);
        Assert.True(result.ChunksReused >= 3);
        await AssertReadsBackAsync(store, "v2", new TarLayerImage(config: "version=22\n").RawLayer);
    }

    [Fact]
    public async Task A_layer_under_one_MiB_and_a_push_with_chunking_off_store_layers_whole()
    {
        var (store, counted) = await NewStoreAsync();
        var small = new TarLayerImage(bigFileBytes: 100_000);
        var smallResult = await Transfers.PushAsync(small, store, "app", "small");
        Assert.Equal(small.Root.Digest, (await store.GetTagAsync("app", "small", default)).Manifest.Digest);
        Assert.Equal(0, smallResult.ChunksUploaded);

        var large = new TarLayerImage();
        await using (var whole = new StoreDestination(store, ImageReference.Create(store.Location, "app", "whole", null), false, LayerChunking.Whole))
            await ImageTransfer.CopyAsync(large, whole, null, null, default);
        Assert.Equal(large.Root.Digest, (await store.GetTagAsync("app", "whole", default)).Manifest.Digest);
        Assert.Equal(0, counted.WritesUnder(StoreLayout.ChunksPrefix));
        Assert.Null(await store.Objects.HeadAsync("s3lo.yaml", default));
    }

    [Fact]
    public async Task A_store_whose_policy_says_chunked_false_stores_layers_whole()
    {
        var (store, counted) = await NewStoreAsync();
        await store.Objects.PutBytesAsync("s3lo.yaml", "chunked: false\n"u8.ToArray(), ObjectClass.Metadata, default);
        var image = new TarLayerImage();
        await Transfers.PushAsync(image, store, "app", "v1");
        Assert.Equal(image.Root.Digest, (await store.GetTagAsync("app", "v1", default)).Manifest.Digest);
        Assert.Equal(0, counted.WritesUnder(StoreLayout.ChunksPrefix));
    }

    [Fact]
    public async Task A_store_with_another_chunk_format_is_refused_before_anything_is_written()
    {
        var (store, counted) = await NewStoreAsync();
        await store.Objects.PutBytesAsync("s3lo.yaml", "chunk_format: 2\n"u8.ToArray(), ObjectClass.Metadata, default);
        counted.Reset();

        var e = await Assert.ThrowsAsync<S3loException>(() => Transfers.PushAsync(new TarLayerImage(), store, "app", "v1"));

        Assert.Equal(ErrorIds.UnsupportedChunkFormat, e.ErrorId);
        Assert.Empty(counted.Keys);
    }

    [Fact]
    public async Task A_layer_that_is_not_a_tar_is_InvalidLayer_and_nothing_is_written()
    {
        var (store, counted) = await NewStoreAsync();
        var notATar = new byte[3 << 20];
        new Random(7).NextBytes(notATar);

        var e = await Assert.ThrowsAsync<S3loException>(() => Transfers.PushAsync(new TarLayerImage(rawLayer: notATar), store, "app", "v1"));

        Assert.Equal(ErrorIds.InvalidLayer, e.ErrorId);
        Assert.Empty(counted.Keys);
    }

    // An uncompressed layer's diff_id is its blob digest, checked once as the source is read: bytes that do not match it
    // still fail the push before its recipe, layer entry or tag exist.
    [Fact]
    public async Task An_uncompressed_layer_whose_bytes_do_not_match_is_DigestMismatch_and_no_recipe_or_tag_is_written()
    {
        var (store, counted) = await NewStoreAsync();
        var image = new TarLayerImage(gzip: false);
        Assert.Equal(image.Layer.Digest, Digest.Compute(image.RawLayer));
        image.DamageBlob(image.Layer.Digest);

        var e = await Assert.ThrowsAsync<S3loException>(() => Transfers.PushAsync(image, store, "app", "v1"));

        Assert.Equal(ErrorIds.DigestMismatch, e.ErrorId);
        Assert.Equal(0, counted.WritesUnder(StoreLayout.RecipesPrefix));
        Assert.Equal(0, counted.WritesUnder(StoreLayout.LayersPrefix));
        Assert.Equal(0, counted.WritesUnder(StoreLayout.IndexesPrefix));
        Assert.Null(await store.TryGetTagAsync("app", "v1", default));
    }

    [Fact]
    public async Task A_corrupt_chunk_the_push_would_reuse_is_DigestMismatch_and_no_recipe_or_tag_is_written()
    {
        var (store, counted) = await NewStoreAsync();
        var v1 = new TarLayerImage();
        await Transfers.PushAsync(v1, store, "app", "v1");
        var firstChunk = Digest.Compute(v1.RawLayer.AsSpan(0, FastCdc.Cuts(v1.RawLayer).First()));
        // A valid frame of other bytes of the same size: only the chunk's digest can tell.
        var damaged = v1.RawLayer.AsSpan(0, FastCdc.Cuts(v1.RawLayer).First()).ToArray();
        damaged[^10] ^= 0xFF;
        using (var compressor = new ZstdSharp.Compressor(3))
            await store.Objects.PutBytesAsync(StoreLayout.ChunkKey(firstChunk), compressor.Wrap(damaged).ToArray(), ObjectClass.Blob, default);
        counted.Reset();

        var e = await Assert.ThrowsAsync<S3loException>(() => Transfers.PushAsync(new TarLayerImage(config: "version=22\n"), store, "app", "v2"));

        Assert.Equal(ErrorIds.DigestMismatch, e.ErrorId);
        Assert.Contains(firstChunk.ToString(), e.Message);
        // Only content-addressed chunks may have landed, garbage for a collection; nothing names them.
        Assert.All(counted.Keys, k => Assert.StartsWith(StoreLayout.ChunksPrefix, k));
        Assert.Null(await store.TryGetTagAsync("app", "v2", default));
    }

    // A frame stored by another writer may be larger than any S3lo compresses to (here a skippable frame follows it): it is
    // reused as stored, up to the 17 MiB a chunk may take, and refused beyond.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_stored_chunk_larger_than_S3lo_frames_is_reused_as_stored_up_to_the_limit(bool overLimit)
    {
        var (store, _) = await NewStoreAsync();
        var v1 = new TarLayerImage();
        await Transfers.PushAsync(v1, store, "app", "v1");
        var first = FastCdc.Cuts(v1.RawLayer).First();
        var firstChunk = Digest.Compute(v1.RawLayer.AsSpan(0, first));
        byte[] frame;
        using (var compressor = new ZstdSharp.Compressor(3))
            frame = compressor.Wrap(v1.RawLayer.AsSpan(0, first)).ToArray();
        var total = overLimit ? (17 << 20) + 1 : ChunkBudget.FrameSize + 1000;
        var stored = new byte[total];
        frame.CopyTo(stored, 0);
        BitConverter.TryWriteBytes(stored.AsSpan(frame.Length), 0x184D2A50u);
        BitConverter.TryWriteBytes(stored.AsSpan(frame.Length + 4), (uint)(total - frame.Length - 8));
        await store.Objects.PutBytesAsync(StoreLayout.ChunkKey(firstChunk), stored, ObjectClass.Blob, default);

        var push = Transfers.PushAsync(new TarLayerImage(config: "version=22\n"), store, "app", "v2");

        if (overLimit)
        {
            Assert.Equal(ErrorIds.ObjectTooLarge, (await Assert.ThrowsAsync<S3loException>(() => push)).ErrorId);
            Assert.Null(await store.TryGetTagAsync("app", "v2", default));
            return;
        }
        await push;
        var layer = Assert.Single((await store.GetTagAsync("app", "v2", default)).Manifest.Layers);
        var recipe = await store.TryGetRecipeAsync(layer.Digest, default);
        Assert.NotNull(recipe);
        Assert.Equal(total, recipe.Chunks[0].CompressedSize);
        // The layer digest covers the frames as stored, the larger one included.
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var chunk in recipe.Chunks) hash.AppendData((await store.Objects.GetBytesAsync(StoreLayout.ChunkKey(chunk.Digest), 32 << 20, default))!.Bytes);
        Assert.Equal(layer.Digest, Digest.FromHash(hash.GetHashAndReset()));
    }

    [Fact]
    public async Task A_copy_to_another_store_moves_chunks_recipe_and_index_and_keeps_the_manifest()
    {
        var (source, _) = await NewStoreAsync();
        var (destination, counted) = await NewStoreAsync();
        var image = new TarLayerImage();
        await Transfers.PushAsync(image, source, "app", "v1");
        var manifest = (await source.GetTagAsync("app", "v1", default)).Manifest;
        var layer = manifest.Layers[0];

        var (result, _, _) = await new ImageCopier(source, destination)
            .CopyAsync(ImageReference.Create(source.Location, "app", "v1", null), ImageReference.Create(destination.Location, "app", "v1", null), null, false, null, default);

        Assert.Equal(manifest.Digest, (await destination.GetTagAsync("app", "v1", default)).Manifest.Digest);
        Assert.Equal(FastCdc.Cuts(image.RawLayer).Count(), counted.WritesUnder(StoreLayout.ChunksPrefix));
        Assert.Equal(1, counted.WritesUnder(StoreLayout.RecipesPrefix));
        Assert.Equal(1, counted.WritesUnder(StoreLayout.IndexesPrefix));
        Assert.False(await destination.BlobExistsAsync(layer.Digest, default));
        Assert.Equal(result.ChunksUploaded, counted.WritesUnder(StoreLayout.ChunksPrefix));
        foreach (var key in new[] { StoreLayout.RecipeKey(layer.Digest), StoreLayout.IndexKey(layer.Digest) })
            Assert.Equal((await source.Objects.GetBytesAsync(key, 1 << 20, default))!.Bytes, (await destination.Objects.GetBytesAsync(key, 1 << 20, default))!.Bytes);
        await AssertReadsBackAsync(destination, "v1", image.RawLayer);
    }

    private static async Task AssertReadsBackAsync(ImageStore store, string tag, byte[] raw)
    {
        var layer = (await store.GetTagAsync("app", tag, default)).Manifest.Layers[0];
        await using var content = await store.OpenBlobAsync(layer, default);
        using var buffer = new MemoryStream();
        await content.CopyToAsync(buffer);
        Assert.Equal(raw, ZstdCli(buffer.ToArray()));
    }

    /// <summary>The reference decompressor: the zstd command-line tool.</summary>
    private static byte[] ZstdCli(byte[] compressed)
    {
        var dir = Path.Combine(Path.GetTempPath(), "s3lo-zstd-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllBytes(Path.Combine(dir, "in.zst"), compressed);
            Tool.Run("zstd", "-q", "-d", Path.Combine(dir, "in.zst"), "-o", Path.Combine(dir, "out"));
            return File.ReadAllBytes(Path.Combine(dir, "out"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private async Task<(ImageStore Store, CountingObjectStore Counted)> NewStoreAsync()
    {
        var counted = new CountingObjectStore(await CreateObjectStoreAsync());
        var store = new ImageStore(counted);
        _stores.Add(store);
        return (store, counted);
    }
}

public sealed class LocalChunkedPushTests : ChunkedPushTests, IDisposable
{
    private readonly TempDir _root = new();

    protected override Task<IObjectStore> CreateObjectStoreAsync()
        => Task.FromResult<IObjectStore>(new LocalObjectStore(LocalStoreProvider.Location(_root.File("store-" + Guid.NewGuid().ToString("N")[..8]))));

    public void Dispose() => _root.Dispose();
}

[Collection(RgwCollection.Name)]
public sealed class S3ChunkedPushTests(RgwServer server) : ChunkedPushTests
{
    protected override async Task<IObjectStore> CreateObjectStoreAsync()
        => await S3ObjectStore.OpenAsync(S3StoreProvider.Location(server.NewBucket(), server.Connection()), default);
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureChunkedPushTests(AzuriteServer server) : ChunkedPushTests
{
    protected override async Task<IObjectStore> CreateObjectStoreAsync()
        => await AzureObjectStore.OpenAsync(AzureStoreProvider.Location(server.NewContainer(), server.Connection()), server.Connection(), default);
}
