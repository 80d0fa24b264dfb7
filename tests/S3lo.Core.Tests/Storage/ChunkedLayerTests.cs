using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Azure;
using S3lo.Core.Tests.TestSupport;
using S3lo.Core.Transfer;

namespace S3lo.Core.Tests.Storage;

/// <summary>
/// Reading layers that a chunking client stored as docs/format.md ("Chunking", chunk_format 1) describes: a recipe, and one zstd frame
/// per chunk of the raw tar. The fixture writes the objects itself, cutting chunks at fixed offsets: the reader must
/// not depend on where the cuts are.
/// </summary>
public abstract class ChunkedLayerTests : IAsyncLifetime
{
    private const string LayerMediaType = "application/vnd.oci.image.layer.v1.tar+zstd";
    private const string FileName = "data/payload.bin";
    private readonly TempDir _dir = new();
    private byte[] _payload = [];
    private byte[] _compressed = [];
    private Descriptor _layer = null!;
    private List<Digest> _chunks = [];

    protected ImageStore Store { get; private set; } = null!;

    protected abstract Task<ImageStore> CreateStoreAsync();

    public async Task InitializeAsync()
    {
        Store = await CreateStoreAsync();
        await PutChunkedImageAsync(Store, "app", "v1");
    }

    public async Task DisposeAsync()
    {
        await Store.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task A_chunked_layer_saves_as_its_compressed_form_which_skopeo_and_umoci_read()
    {
        var layout = _dir.File("out");
        await SaveAsync(Store, layout);

        Assert.Equal(_compressed, File.ReadAllBytes(Path.Combine(layout, "blobs", "sha256", _layer.Digest.Hex)));
        // umoci cannot read zstd layers: skopeo decompresses the layer (checking it) into a gzip copy that umoci unpacks.
        var gzipLayout = _dir.File("gzip");
        Tool.Run("skopeo", "--insecure-policy", "copy", "--dest-compress-format", "gzip", "oci:" + layout + ":v1", "oci:" + gzipLayout + ":v1");
        var bundle = _dir.File("bundle");
        Tool.Run("umoci", "unpack", "--rootless", "--image", gzipLayout + ":v1", bundle);
        Assert.Equal(_payload, File.ReadAllBytes(Path.Combine(bundle, "rootfs", FileName)));
    }

    [Fact]
    public async Task A_chunk_whose_content_is_not_its_digest_fails_the_save_with_DigestMismatch_and_writes_nothing()
    {
        // A valid frame of other bytes of the same size: only the chunk's digest can tell.
        var original = (await Store.Objects.GetBytesAsync(StoreLayout.ChunkKey(_chunks[1]), 64 << 20, default))!.Bytes;
        var raw = ZstdDecompress(original);
        raw[raw.Length / 2] ^= 0xFF;
        await Store.Objects.PutBytesAsync(StoreLayout.ChunkKey(_chunks[1]), ZstdCompress(raw), ObjectClass.Blob, default);

        var layout = _dir.File("out");
        var e = await Assert.ThrowsAsync<S3loException>(() => SaveAsync(Store, layout));
        Assert.Equal(ErrorIds.DigestMismatch, e.ErrorId);
        // The chunk's own check names the chunk; the layer's check, which would also catch it later, names the layer.
        Assert.Equal(_chunks[1].ToString(), e.Target);
        Assert.False(Directory.Exists(layout));
    }

    [Fact]
    public async Task A_missing_chunk_is_BlobNotFound()
    {
        await Store.Objects.DeleteAsync([StoreLayout.ChunkKey(_chunks[^1])], default);
        var e = await Assert.ThrowsAsync<S3loException>(() => SaveAsync(Store, _dir.File("out")));
        Assert.Equal(ErrorIds.BlobNotFound, e.ErrorId);
        Assert.Contains(_chunks[^1].ToString(), e.Message);
    }

    [Fact]
    public async Task A_store_that_declares_another_chunk_format_is_UnsupportedChunkFormat()
    {
        await Store.Objects.PutBytesAsync("s3lo.yaml", "chunked: true\nchunk_format: 2\n"u8.ToArray(), ObjectClass.Metadata, default);
        var e = await Assert.ThrowsAsync<S3loException>(() => SaveAsync(Store, _dir.File("out")));
        Assert.Equal(ErrorIds.UnsupportedChunkFormat, e.ErrorId);
    }

    [Fact]
    public async Task A_copy_within_the_store_moves_no_bytes_and_a_copy_to_another_store_moves_the_chunks_as_they_are()
    {
        var within = await new ImageCopier(Store, Store).CopyAsync(Reference(Store, "v1"), Reference(Store, "v2"), null, false, null, default);
        Assert.Equal(0, within.Result.BlobsUploaded);
        Assert.Equal(0, within.Result.BytesUploaded);
        Assert.False(await Store.BlobExistsAsync(_layer.Digest, default));

        await using var other = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("other"))));
        var across = await new ImageCopier(Store, other).CopyAsync(Reference(Store, "v1"), Reference(other, "v1"), null, false, null, default);
        Assert.Equal(2, across.Result.BlobsUploaded);
        Assert.Equal((_chunks.Count, 0), (across.Result.ChunksUploaded, across.Result.ChunksReused));
        Assert.False(await other.BlobExistsAsync(_layer.Digest, default));
        foreach (var chunk in _chunks)
            Assert.Equal((await Store.Objects.GetBytesAsync(StoreLayout.ChunkKey(chunk), 64 << 20, default))!.Bytes,
                (await other.Objects.GetBytesAsync(StoreLayout.ChunkKey(chunk), 64 << 20, default))!.Bytes);
        Assert.NotNull(await other.TryGetRecipeAsync(_layer.Digest, default));
        Assert.Equal((await Store.GetTagAsync("app", "v1", default)).Manifest.Digest, (await other.GetTagAsync("app", "v1", default)).Manifest.Digest);
        await using var copied = await other.OpenBlobAsync(_layer, default);
        using var buffer = new MemoryStream();
        await copied.CopyToAsync(buffer);
        Assert.Equal(_compressed, buffer.ToArray());
    }

    private static ImageReference Reference(ImageStore store, string tag) => ImageReference.Create(store.Location, "app", tag, null);

    private static Task SaveAsync(ImageStore store, string layout)
        => Transfers.SaveAsync(store, Reference(store, "v1"), ImageFormat.OciLayout, layout, "app:v1");

    /// <summary>A one-layer image whose layer (a tar of one 3.5 MiB file) is stored as three chunks and a recipe, with no blob.</summary>
    private async Task PutChunkedImageAsync(ImageStore store, string name, string tag)
    {
        _payload = RandomNumberGenerator.GetBytes((3 << 20) + (1 << 19));
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "data/"));
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, FileName) { DataStream = new MemoryStream(_payload) });
        }
        var raw = tar.ToArray();

        int[] cuts = [0, 1 << 20, (1 << 20) + (1 << 20) + 12345, raw.Length];
        var frames = new List<byte[]>();
        var chunkJson = new List<string>();
        _chunks = [];
        for (var i = 0; i + 1 < cuts.Length; i++)
        {
            var chunk = raw[cuts[i]..cuts[i + 1]];
            var frame = ZstdCompress(chunk);
            var digest = Digest.Compute(chunk);
            await store.Objects.PutBytesAsync(StoreLayout.ChunkKey(digest), frame, ObjectClass.Blob, default);
            frames.Add(frame);
            _chunks.Add(digest);
            chunkJson.Add($"{{\"digest\":\"{digest.Hex}\",\"size\":{chunk.Length},\"compressedSize\":{frame.Length}}}");
        }
        _compressed = frames.SelectMany(f => f).ToArray();
        _layer = new Descriptor(LayerMediaType, Digest.Compute(_compressed), _compressed.Length);
        var recipe = $"{{\"layer\":\"{Digest.Compute(raw).Hex}\",\"size\":{raw.Length},\"compressedDigest\":\"{_layer.Digest.Hex}\","
                     + $"\"compressedSize\":{_compressed.Length},\"chunks\":[{string.Join(",", chunkJson)}]}}";
        await store.Objects.PutBytesAsync(StoreLayout.RecipeKey(_layer.Digest), Encoding.UTF8.GetBytes(recipe), ObjectClass.Metadata, default);

        var configBytes = Encoding.UTF8.GetBytes(
            $"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Digest.Compute(raw)}\"]}}}}");
        var config = new Descriptor("application/vnd.oci.image.config.v1+json", Digest.Compute(configBytes), configBytes.Length);
        await store.PutBlobAsync(config, new MemoryStream(configBytes), null, default);
        await store.PublishTagAsync(name, tag, Manifest.CreateImage(config, [_layer]), force: false, default);
    }

    private static byte[] ZstdCompress(byte[] raw)
    {
        using var compressor = new ZstdSharp.Compressor(3);
        return compressor.Wrap(raw).ToArray();
    }

    private static byte[] ZstdDecompress(byte[] frame)
    {
        using var decompressor = new ZstdSharp.Decompressor();
        return decompressor.Unwrap(frame).ToArray();
    }
}

public sealed class LocalChunkedLayerTests : ChunkedLayerTests, IDisposable
{
    private readonly TempDir _root = new();

    protected override Task<ImageStore> CreateStoreAsync()
        => Task.FromResult(new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_root.File("store")))));

    public void Dispose() => _root.Dispose();
}

[Collection(RgwCollection.Name)]
public sealed class S3ChunkedLayerTests(RgwServer server) : ChunkedLayerTests
{
    protected override async Task<ImageStore> CreateStoreAsync()
        => new(await S3ObjectStore.OpenAsync(S3StoreProvider.Location(server.NewBucket(), server.Connection(null, null)), default));
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureChunkedLayerTests(AzuriteServer server) : ChunkedLayerTests
{
    protected override async Task<ImageStore> CreateStoreAsync()
        => new(await AzureObjectStore.OpenAsync(AzureStoreProvider.Location(server.NewContainer(), server.Connection()), server.Connection(), default));
}
