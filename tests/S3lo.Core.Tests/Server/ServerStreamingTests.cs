using System.Net;
using System.Net.Sockets;
using System.Text;
using S3lo.Core.Oci;
using S3lo.Core.Server;
using S3lo.Core.Storage;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Server;

/// <summary>
/// What serving a blob costs the store, seen through a <see cref="CountingObjectStore"/>: a Range request reads the blob
/// from its offset (not from its start), and of a chunked layer only the chunks from the one holding the offset.
/// </summary>
public abstract class ServerRangedReadTests(ImageFixture images) : IAsyncLifetime
{
    private const int BigSize = 4 << 20;
    private readonly HttpClient _http = new();
    private CountingObjectStore _counting = null!;
    private ImageStore _store = null!;
    private ServedImages _served = null!;
    private Descriptor _big = null!;
    private byte[] _bigBytes = [];
    private RunningServer _server = null!;

    protected abstract Task<IObjectStore> CreateObjectsAsync();

    public async Task InitializeAsync()
    {
        _counting = new CountingObjectStore(await CreateObjectsAsync());
        _store = new ImageStore(_counting);
        _served = await ServedImages.WriteAsync(_store, images);
        _bigBytes = new byte[BigSize];
        new Random(11).NextBytes(_bigBytes);
        _big = await ServedImages.PutLayerImageAsync(_store, "big", "v1", _bigBytes);
        _server = new RunningServer(_store);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _store.DisposeAsync();
        _http.Dispose();
    }

    private async Task<byte[]> GetRangeAsync(string name, Digest digest, string range)
    {
        // The repository's view is loaded first, so the counts that follow are of the blob alone.
        using var warm = await _http.GetAsync($"http://{_server.Host}/v2/{name}/manifests/v1");
        _counting.Reset();
        var request = new HttpRequestMessage(HttpMethod.Get, $"http://{_server.Host}/v2/{name}/blobs/{digest}");
        request.Headers.TryAddWithoutValidation("Range", range);
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync();
    }

    [Fact]
    public async Task A_range_near_the_end_of_a_blob_reads_only_the_tail_from_the_store()
    {
        var body = await GetRangeAsync("big", _big.Digest, $"bytes={BigSize - 1000}-");
        Assert.Equal(_bigBytes[^1000..], body);
        var read = _counting.BytesReadUnder(StoreLayout.BlobKey(_big.Digest));
        Assert.InRange(read, 1000, 64 << 10);
    }

    [Fact]
    public async Task A_range_in_the_middle_of_a_blob_reads_only_that_range_from_the_store()
    {
        var body = await GetRangeAsync("big", _big.Digest, "bytes=1000000-1000999");
        Assert.Equal(_bigBytes[1_000_000..1_001_000], body);
        Assert.InRange(_counting.BytesReadUnder(StoreLayout.BlobKey(_big.Digest)), 1000, 64 << 10);
    }

    [Fact]
    public async Task A_chunked_layer_with_a_changed_frame_is_cut_off_before_its_last_byte()
    {
        // A byte of the middle frame changed in place (same size): the frames served whole no longer hash to the layer
        // digest, and the response must end short of its Content-Length instead of handing the client a complete wrong blob.
        var layer = _served.Chunked.Layers[0];
        var recipe = (await _store.TryGetRecipeAsync(layer.Digest, default))!;
        var key = StoreLayout.ChunkKey(recipe.Chunks[1].Digest);
        var frame = (await _store.Objects.GetBytesAsync(key, 64 << 20, default))!.Bytes;
        frame[frame.Length / 2] ^= 0x5a;
        await _store.Objects.PutBytesAsync(key, frame, ObjectClass.Blob, default);

        using var response = await _http.GetAsync($"http://{_server.Host}/v2/chunked/blobs/{layer.Digest}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(layer.Size, response.Content.Headers.ContentLength);
        await Assert.ThrowsAnyAsync<Exception>(() => response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public async Task A_chunked_layer_with_a_frame_longer_or_shorter_than_its_recipe_states_is_cut_off(int change)
    {
        // The frames are not decompressed on this path, so the stored size the recipe states is what catches a frame
        // that grew or shrank: the response ends short of its Content-Length.
        var layer = _served.Chunked.Layers[0];
        var recipe = (await _store.TryGetRecipeAsync(layer.Digest, default))!;
        var key = StoreLayout.ChunkKey(recipe.Chunks[0].Digest);
        var frame = (await _store.Objects.GetBytesAsync(key, 64 << 20, default))!.Bytes;
        var changed = change > 0 ? [.. frame, (byte)0] : frame[..^1];
        await _store.Objects.PutBytesAsync(key, changed, ObjectClass.Blob, default);

        using var response = await _http.GetAsync($"http://{_server.Host}/v2/chunked/blobs/{layer.Digest}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(layer.Size, response.Content.Headers.ContentLength);
        await Assert.ThrowsAnyAsync<Exception>(() => response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_range_in_the_last_chunk_of_a_chunked_layer_fetches_only_that_chunk()
    {
        var layer = _served.Chunked.Layers[0];
        var recipe = (await _store.TryGetRecipeAsync(layer.Digest, default))!;
        var body = await GetRangeAsync("chunked", layer.Digest, "bytes=-100");
        Assert.Equal(_served.ChunkedLayer[^100..], body);
        Assert.Equal([StoreLayout.ChunkKey(recipe.Chunks[^1].Digest)], _counting.ReadsUnder(StoreLayout.ChunksPrefix));
    }

    [Fact]
    public async Task A_range_inside_the_first_chunk_of_a_chunked_layer_fetches_only_that_chunk()
    {
        var layer = _served.Chunked.Layers[0];
        var recipe = (await _store.TryGetRecipeAsync(layer.Digest, default))!;
        var body = await GetRangeAsync("chunked", layer.Digest, "bytes=1000-1999");
        Assert.Equal(_served.ChunkedLayer[1000..2000], body);
        Assert.Equal([StoreLayout.ChunkKey(recipe.Chunks[0].Digest)], _counting.ReadsUnder(StoreLayout.ChunksPrefix));
    }

    [Fact]
    public async Task A_range_across_a_chunk_boundary_starts_at_the_chunk_holding_its_first_byte()
    {
        var layer = _served.Chunked.Layers[0];
        var recipe = (await _store.TryGetRecipeAsync(layer.Digest, default))!;
        var secondEnds = recipe.Chunks[0].CompressedSize + recipe.Chunks[1].CompressedSize;
        var (from, to) = (secondEnds - 5000, secondEnds + 5000);
        var body = await GetRangeAsync("chunked", layer.Digest, $"bytes={from}-{to}");
        Assert.Equal(_served.ChunkedLayer[(int)from..(int)(to + 1)], body);
        // Fetched side by side, so in no set order.
        Assert.Equal(
            new[] { recipe.Chunks[1], recipe.Chunks[2] }.Select(c => StoreLayout.ChunkKey(c.Digest)).Order(StringComparer.Ordinal),
            _counting.ReadsUnder(StoreLayout.ChunksPrefix).Order(StringComparer.Ordinal));
    }
}

public sealed class LocalServerRangedReadTests(ImageFixture images) : ServerRangedReadTests(images), IClassFixture<ImageFixture>, IDisposable
{
    private readonly TempDir _root = new();

    protected override Task<IObjectStore> CreateObjectsAsync()
        => Task.FromResult<IObjectStore>(new LocalObjectStore(LocalStoreProvider.Location(_root.File("store"))));

    public void Dispose() => _root.Dispose();
}

[Collection(RgwCollection.Name)]
public sealed class S3ServerRangedReadTests(RgwServer server, ImageFixture images) : ServerRangedReadTests(images), IClassFixture<ImageFixture>
{
    protected override async Task<IObjectStore> CreateObjectsAsync() => await server.NewStoreAsync();
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureServerRangedReadTests(AzuriteServer server, ImageFixture images) : ServerRangedReadTests(images), IClassFixture<ImageFixture>
{
    protected override async Task<IObjectStore> CreateObjectsAsync() => await server.NewStoreAsync();
}

/// <summary>
/// How the server treats connections that end early or outlive a stop, on a local store seen through a
/// <see cref="CountingObjectStore"/>: a client that hangs up mid-blob stops the store read; a stop lets a slow response
/// finish; a TLS handshake on the plain-HTTP port is answered at once.
/// </summary>
public sealed class ServerConnectionTests : IAsyncLifetime
{
    private const int HugeSize = 48 << 20;
    private readonly TempDir _dir = new();
    private CountingObjectStore _counting = null!;
    private ImageStore _store = null!;
    private Descriptor _huge = null!;
    private byte[] _hugeBytes = [];

    public async Task InitializeAsync()
    {
        _counting = new CountingObjectStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store"))));
        _store = new ImageStore(_counting);
        _hugeBytes = new byte[HugeSize];
        new Random(7).NextBytes(_hugeBytes);
        _huge = await ServedImages.PutLayerImageAsync(_store, "huge", "v1", _hugeBytes);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _dir.Dispose();
    }

    private string BlobKey => StoreLayout.BlobKey(_huge.Digest);

    private static async Task<string> ReadHeadAsync(Stream stream)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await stream.ReadAsync(one) == 0) break;
            head.Add(one[0]);
        }
        return Encoding.Latin1.GetString(head.ToArray());
    }

    /// <summary>Waits (bounded) for the server to log a line containing <paramref name="text"/>; the line, or null.</summary>
    private static async Task<string?> AwaitLogAsync(RunningServer server, string text)
    {
        for (var i = 0; i < 300; i++)
        {
            lock (server.Log)
            {
                if (server.Log.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line) return line;
            }
            await Task.Delay(100);
        }
        return null;
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_blob_stops_the_server_reading_the_store()
    {
        await using var server = new RunningServer(_store);
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, server.Endpoint.Port);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET /v2/huge/blobs/{_huge.Digest} HTTP/1.1\r\nHost: x\r\n\r\n"));
            Assert.StartsWith("HTTP/1.1 200", await ReadHeadAsync(stream));
            var buffer = new byte[1 << 20];
            await stream.ReadExactlyAsync(buffer);
            Assert.Equal(_hugeBytes[..(1 << 20)], buffer);
            // Hang up hard (RST), as a killed client does.
            client.LingerState = new LingerOption(true, 0);
        }
        var line = await AwaitLogAsync(server, $"/v2/huge/blobs/{_huge.Digest}");
        Assert.NotNull(line);
        Assert.Contains("client disconnected", line);
        var readAtEnd = _counting.BytesReadUnder(BlobKey);
        await server.StopAsync();
        // What was read beyond the client's 1 MiB is what the socket buffers held, not the rest of the 48 MiB blob.
        Assert.InRange(readAtEnd, 1 << 20, 16 << 20);
        Assert.Equal(readAtEnd, _counting.BytesReadUnder(BlobKey));
    }

    [Fact]
    public async Task A_stop_while_a_slow_blob_is_streaming_lets_the_response_finish()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _counting.ReadGate = release.Task;
        await using var server = new RunningServer(_store);
        using var http = new HttpClient();
        var get = http.GetByteArrayAsync($"http://{server.Host}/v2/huge/blobs/{_huge.Digest}");
        await _counting.FirstStreamRead.WaitAsync(TimeSpan.FromSeconds(60));
        var stop = server.StopAsync();
        Assert.False(stop.IsCompleted);
        release.SetResult();
        var body = await get;
        await stop;
        Assert.Equal(_huge.Digest, Digest.Compute(body));
    }

    [Fact]
    public async Task A_tls_handshake_on_the_plain_http_port_is_answered_400_and_closed_at_once()
    {
        // An idle timeout far beyond the read timeout below: a server waiting for the rest of a head would fail the test.
        await using var server = new RunningServer(_store, new RegistryServerOptions { IdleTimeout = TimeSpan.FromMinutes(10) });
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.Endpoint.Port);
        client.ReceiveTimeout = 60_000;
        var stream = client.GetStream();
        // The start of a TLS 1.2 ClientHello record: handshake (0x16), version 3.1, a length, then the hello.
        await stream.WriteAsync(new byte[] { 0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03 });
        var answer = new MemoryStream();
        stream.CopyTo(answer);
        var text = Encoding.Latin1.GetString(answer.ToArray());
        Assert.StartsWith("HTTP/1.1 400", text);
        Assert.Contains("Connection: close", text);
        Assert.NotNull(await AwaitLogAsync(server, "a TLS handshake on the plain-HTTP port"));
    }
}
