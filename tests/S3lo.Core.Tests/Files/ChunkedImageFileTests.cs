using System.Security.Cryptography;
using System.Text;
using S3lo.Core.Files;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Tests.TestSupport;
using static S3lo.Core.Tests.Files.TestImages;

namespace S3lo.Core.Tests.Files;

/// <summary>
/// Files of a chunked layer with a file index, in a bucket on Ceph RGW: listing reads the index and no chunk, reading a file
/// fetches exactly the chunks that overlap its bytes, each checked against its digest. Requests are counted at the store.
/// </summary>
[Collection(RgwCollection.Name)]
public sealed class ChunkedImageFileTests(RgwServer server) : IAsyncLifetime
{
    private const int ChunkSize = 32 << 10;
    private readonly byte[] _big = RandomNumberGenerator.GetBytes(100_000);
    private CountingObjectStore _objects = null!;
    private ImageStore _store = null!;
    private ImageReference _reference = null!;
    private IReadOnlyList<Digest> _chunks = [];
    private Digest _layer;
    private byte[] _tar = [];

    public async Task InitializeAsync()
    {
        _objects = new CountingObjectStore(await S3ObjectStore.OpenAsync(S3StoreProvider.Location(server.NewBucket(), server.Connection(null, null)), default));
        _store = new ImageStore(_objects);
        var lower = await PutLayerAsync(_store, new LayerTar().File("etc/os-release", "lower\n").File("etc/gone", "x").ToArray(), Stored.Gzip);
        _tar = new LayerTar().File("etc/os-release", "ID=chunked\n").File("data/big.bin", _big).File("data/other.bin", RandomNumberGenerator.GetBytes(200_000)).File("data/tail.txt", "the tail")
            .Symlink("etc/link", "../data/tail.txt").Whiteout("etc/gone").ToArray();
        (var layer, _chunks) = await PutChunkedLayerAsync(_store, _tar, ChunkSize);
        _layer = layer.Digest;
        _reference = await PublishAsync(_store, "app", "v1", [lower, layer]);
        _objects.Reset();
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    /// <summary>The chunks that hold bytes [start, end) of the raw tar, computed here from the fixed cuts.</summary>
    private IEnumerable<string> ChunkKeysFor(long start, long end)
        => _chunks.Where((_, i) => (long)i * ChunkSize < end && (long)(i + 1) * ChunkSize > start).Select(StoreLayout.ChunkKey);

    private static long OffsetOf(byte[] tar, string name)
    {
        using var reader = new System.Formats.Tar.TarReader(new MemoryStream(tar));
        while (reader.GetNextEntry() is { } entry)
            if (entry.Name == name) return entry.DataOffset;
        throw new InvalidOperationException(name);
    }

    [Fact]
    public async Task Listing_reads_the_file_index_and_no_chunk()
    {
        var files = await ImageFileSystem.OpenAsync(_store, _reference, null, default);

        Assert.Empty(_objects.ReadsUnder(StoreLayout.ChunksPrefix));
        Assert.Empty(_objects.ReadsUnder(StoreLayout.RecipesPrefix));
        // The lower layer has no index: it is looked for, then streamed.
        Assert.Contains(StoreLayout.IndexesPrefix + _layer.Hex, _objects.ReadsUnder(StoreLayout.IndexesPrefix));
        Assert.Equal(["/data", "/data/big.bin", "/data/other.bin", "/data/tail.txt", "/etc", "/etc/link", "/etc/os-release"], files.Files.Select(f => f.Path));
        Assert.Equal(_big.Length, files.Find("/data/big.bin")!.Size);
        Assert.Equal(ImageFileType.Symlink, files.Find("/etc/link")!.Type);
    }

    [Fact]
    public async Task Reading_a_file_fetches_only_the_chunks_that_overlap_it()
    {
        var files = await ImageFileSystem.OpenAsync(_store, _reference, null, default);
        _objects.Reset();

        using var content = new MemoryStream();
        await files.CopyFileAsync("/data/big.bin", content, default);
        Assert.Equal(_big, content.ToArray());
        var offset = OffsetOf(_tar, "data/big.bin");
        var expected = ChunkKeysFor(offset, offset + _big.Length).ToList();
        Assert.Equal(expected, _objects.ReadsUnder(StoreLayout.ChunksPrefix));
        Assert.InRange(expected.Count, 3, _chunks.Count - 4);
        Assert.Empty(_objects.ReadsUnder(StoreLayout.BlobsPrefix));

        _objects.Reset();
        using var small = new MemoryStream();
        await files.CopyFileAsync("/etc/link", small, default);
        Assert.Equal("the tail", Encoding.UTF8.GetString(small.ToArray()));
        var tail = OffsetOf(_tar, "data/tail.txt");
        Assert.Equal(ChunkKeysFor(tail, tail + 8), _objects.ReadsUnder(StoreLayout.ChunksPrefix));
    }

    [Fact]
    public async Task A_chunk_whose_content_is_not_its_digest_is_DigestMismatch()
    {
        var files = await ImageFileSystem.OpenAsync(_store, _reference, null, default);
        var offset = OffsetOf(_tar, "data/big.bin");
        var chunk = _chunks[(int)(offset / ChunkSize) + 1];
        var raw = Unzstd((await _objects.GetBytesAsync(StoreLayout.ChunkKey(chunk), 64 << 20, default))!.Bytes);
        raw[100] ^= 0xFF;
        await _objects.PutBytesAsync(StoreLayout.ChunkKey(chunk), Zstd(raw), ObjectClass.Blob, default);

        var e = await Assert.ThrowsAsync<S3loException>(() => files.CopyFileAsync("/data/big.bin", new MemoryStream(), default));
        Assert.Equal(ErrorIds.DigestMismatch, e.ErrorId);
        Assert.Contains(chunk.ToString(), e.Message);
        // A file in other chunks is still read.
        using var release = new MemoryStream();
        await files.CopyFileAsync("/etc/os-release", release, default);
        Assert.Equal("ID=chunked\n", Encoding.UTF8.GetString(release.ToArray()));
    }
}
