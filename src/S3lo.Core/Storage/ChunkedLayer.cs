using System.Text.Json;
using S3lo.Core.IO;
using S3lo.Core.Oci;

namespace S3lo.Core.Storage;

/// <summary>One chunk of a chunked layer: the digest and size of its raw (uncompressed) bytes.</summary>
public sealed record ChunkInfo(Digest Digest, long Size, long CompressedSize);

/// <summary>
/// The recipe of a layer stored chunked (docs/format.md, "Chunking", "Recipes", chunk_format 1), at
/// <c>recipes/sha256/&lt;compressedDigest&gt;</c>: the layer's compressed form is the chunks' stored zstd frames in order.
/// </summary>
public sealed record ChunkRecipe(Digest Layer, long Size, Digest CompressedDigest, long CompressedSize, IReadOnlyList<ChunkInfo> Chunks)
{
    /// <summary>The chunk format this version reads; a store that declares another is refused.</summary>
    public const int SupportedChunkFormat = 1;

    /// <summary>The largest raw chunk chunk_format 1 allows.</summary>
    public const long MaxChunkBytes = 16L << 20;

    public static ChunkRecipe Parse(byte[] bytes, Digest expected)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            var chunks = root.GetProperty("chunks").EnumerateArray()
                .Select(c => new ChunkInfo(Digest.FromHex(c.GetProperty("digest").GetString() ?? ""), c.GetProperty("size").GetInt64(),
                    c.GetProperty("compressedSize").GetInt64()))
                .ToList();
            var recipe = new ChunkRecipe(Digest.FromHex(root.GetProperty("layer").GetString() ?? ""), root.GetProperty("size").GetInt64(),
                Digest.FromHex(root.GetProperty("compressedDigest").GetString() ?? ""), root.GetProperty("compressedSize").GetInt64(), chunks);
            if (recipe.CompressedDigest != expected)
                throw Invalid(expected, $"it describes the layer {recipe.CompressedDigest}");
            // A raw chunk is at most 16 MiB (chunk_format 1), its stored frame at most MaxStoredChunkBytes: a larger size is
            // refused here, before any reader sizes a buffer by it.
            if (chunks.Any(c => c.Size > MaxChunkBytes || c.CompressedSize > ChunkedLayerStream.MaxStoredChunkBytes))
                throw Invalid(expected, $"a chunk is declared larger than {MaxChunkBytes >> 20} MiB");
            if (chunks.Count == 0 || chunks.Any(c => c.Size <= 0 || c.CompressedSize <= 0) || chunks.Sum(c => c.Size) != recipe.Size
                || chunks.Sum(c => c.CompressedSize) != recipe.CompressedSize)
                throw Invalid(expected, "its chunk sizes do not add up to the layer's");
            return recipe;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException
                                      || (e is S3loException s && s.ErrorId == ErrorIds.InvalidDigest))
        {
            throw Invalid(expected, e.Message, e);
        }
    }

    private static S3loException Invalid(Digest layer, string why, Exception? inner = null)
        => new(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
            $"The recipe of the chunked layer {layer} ({StoreLayout.RecipeKey(layer)}) cannot be read: {why}.", layer.ToString(), inner);
}

/// <summary>
/// Reads a chunked layer as its compressed form: the stored zstd frame of each chunk, in recipe order. Each chunk is
/// decompressed and checked against its raw size and digest before its bytes are returned; the whole is the layer's
/// compressed digest, which the caller checks as for any blob. A few chunks are fetched ahead, one frame each in memory,
/// into buffers the stream reuses from frame to frame (a layer of hundreds of chunks allocates a few, not one each).
/// </summary>
internal sealed class ChunkedLayerStream : ReadOnlyStream
{
    // A raw chunk is at most 16 MiB; zstd adds a few bytes per 128 KiB block when it cannot compress.
    internal const long MaxStoredChunkBytes = 17L << 20;
    private const int ChunksAhead = 2;

    private readonly IObjectStore _objects;
    private readonly ChunkRecipe _recipe;
    private readonly CancellationTokenSource _stop = new();
    private readonly Queue<Task<Frame>> _ahead = new();
    // Buffers of frames already returned, for the next fetches; at most ChunksAhead + 1 are in use at a time.
    private readonly Stack<byte[]> _free = new();
    private int _nextToFetch;
    private Frame _current = new([], 0);
    private int _offset;
    private int _skipInFirst;
    private readonly int _endChunk;
    private long _read;
    private readonly bool _checkEachChunk;

    /// <summary>One chunk's stored frame: the first <see cref="Length"/> bytes of <see cref="Buffer"/>.</summary>
    private readonly record struct Frame(byte[] Buffer, int Length);

    /// <param name="offset">Where in the layer's compressed form to start: the chunks before the one holding it are not
    /// fetched, and that one's frame is returned from the offset on (after the whole chunk was checked).</param>
    /// <param name="length">How many bytes from there will be read at most: no chunk past the one holding the last of them is
    /// fetched (ahead or at all).</param>
    /// <param name="checkEachChunk">False only for a caller that checks the whole compressed form against the layer digest
    /// (which covers every frame byte returned): each frame is then not decompressed and hashed a second time.</param>
    internal ChunkedLayerStream(IObjectStore objects, ChunkRecipe recipe, long offset = 0, long length = long.MaxValue, bool checkEachChunk = true)
    {
        _objects = objects;
        _checkEachChunk = checkEachChunk;
        _recipe = recipe;
        _read = offset;
        // A frame's place in the compressed form is the sum of the stored (compressed) sizes before it.
        long start = 0;
        while (_nextToFetch < recipe.Chunks.Count && start + recipe.Chunks[_nextToFetch].CompressedSize <= offset)
            start += recipe.Chunks[_nextToFetch++].CompressedSize;
        _skipInFirst = (int)(offset - start);
        var end = length >= recipe.CompressedSize - offset ? recipe.CompressedSize : offset + length;
        _endChunk = _nextToFetch;
        for (var at = start; _endChunk < recipe.Chunks.Count && at < end; _endChunk++) at += recipe.Chunks[_endChunk].CompressedSize;
    }

    public override long Length => _recipe.CompressedSize;
    public override long Position { get => _read; set => throw new NotSupportedException(); }

    // Chunks are fetched asynchronously; a synchronous reader waits for them.
    public override int Read(Span<byte> buffer) => ReadBlocking(buffer);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return 0;
        while (_offset == _current.Length)
        {
            // The frame just returned is done with: its buffer takes the next one fetched.
            if (_current.Buffer.Length > 0) lock (_free) _free.Push(_current.Buffer);
            _current = new Frame([], 0);
            while (_ahead.Count < ChunksAhead && _nextToFetch < _endChunk)
            {
                var chunk = _recipe.Chunks[_nextToFetch++];
                _ahead.Enqueue(Task.Run(() => FetchAsync(chunk, _stop.Token)));
            }
            if (_ahead.Count == 0) return 0;
            _current = await _ahead.Dequeue().WaitAsync(cancellationToken).ConfigureAwait(false);
            _offset = Math.Min(_skipInFirst, _current.Length);
            _skipInFirst = 0;
        }
        var n = Math.Min(buffer.Length, _current.Length - _offset);
        _current.Buffer.AsMemory(_offset, n).CopyTo(buffer);
        _offset += n;
        _read += n;
        return n;
    }

    /// <summary>One chunk's stored frame, read into a free buffer when one is large enough, checked to have the stored size
    /// the recipe states and, unless the caller checks the layer digest over all frames, to decompress to the chunk.</summary>
    private async Task<Frame> FetchAsync(ChunkInfo chunk, CancellationToken cancellationToken)
    {
        var size = (int)chunk.CompressedSize;
        byte[]? buffer = null;
        lock (_free)
        {
            if (_free.TryPop(out var free) && free.Length >= size) buffer = free;
        }
        buffer ??= new byte[size];
        var key = StoreLayout.ChunkKey(chunk.Digest);
        Stream stored;
        try
        {
            stored = await _objects.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectNotFoundException)
        {
            throw Missing(_objects, _recipe, chunk, key);
        }
        int length;
        await using (stored.ConfigureAwait(false))
        {
            // Past the stated size one byte is asked for: a longer frame is seen without reading the rest of it.
            length = await stored.ReadAtLeastAsync(buffer.AsMemory(0, size), size, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (length == size && await stored.ReadAsync(new byte[1], cancellationToken).ConfigureAwait(false) > 0) length = -1;
        }
        if (length != size)
            throw WrongSize(_objects, _recipe, chunk, length < 0 ? $"more than {size}" : length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (_checkEachChunk) await CheckChunkAsync(_objects, _recipe, chunk, buffer, size, cancellationToken).ConfigureAwait(false);
        return new Frame(buffer, size);
    }

    private static S3loException Missing(IObjectStore objects, ChunkRecipe recipe, ChunkInfo chunk, string key)
        => new(ErrorIds.BlobNotFound, S3loErrorKind.NotFound,
            $"The chunk {chunk.Digest} of the layer {recipe.CompressedDigest} in {objects.Location} is missing ({key}).", chunk.Digest.ToString());

    private static S3loException WrongSize(IObjectStore objects, ChunkRecipe recipe, ChunkInfo chunk, string stored)
        => new(ErrorIds.SizeMismatch, S3loErrorKind.InvalidData,
            $"The chunk {chunk.Digest} of the layer {recipe.CompressedDigest} in {objects.Location} has {stored} stored bytes, but its recipe states {chunk.CompressedSize}.",
            chunk.Digest.ToString());

    private static async Task<byte[]> GetFrameAsync(IObjectStore objects, ChunkRecipe recipe, ChunkInfo chunk, CancellationToken cancellationToken)
    {
        var key = StoreLayout.ChunkKey(chunk.Digest);
        var stored = await objects.GetBytesAsync(key, MaxStoredChunkBytes, cancellationToken).ConfigureAwait(false)
                     ?? throw Missing(objects, recipe, chunk, key);
        return stored.Bytes;
    }

    /// <summary>One chunk's stored frame, checked to decompress to the chunk's raw size and digest.</summary>
    internal static async Task<byte[]> FetchChunkAsync(IObjectStore objects, ChunkRecipe recipe, ChunkInfo chunk, CancellationToken cancellationToken)
    {
        var stored = await GetFrameAsync(objects, recipe, chunk, cancellationToken).ConfigureAwait(false);
        await CheckChunkAsync(objects, recipe, chunk, stored, stored.Length, cancellationToken).ConfigureAwait(false);
        return stored;
    }

    /// <summary>Checks that the frame (the first <paramref name="length"/> bytes of <paramref name="frame"/>) decompresses to
    /// the chunk's raw size and digest.</summary>
    private static async Task CheckChunkAsync(IObjectStore objects, ChunkRecipe recipe, ChunkInfo chunk, byte[] frame, int length, CancellationToken cancellationToken)
    {
        var what = $"chunk {chunk.Digest} of the layer {recipe.CompressedDigest} in {objects.Location}";
        // The frame's bytes are what the layer digest covers; its raw content must be the chunk the recipe names.
        try
        {
            using var input = new MemoryStream(frame, 0, length, writable: false);
            await using var raw = new VerifyingReadStream(new ZstdSharp.DecompressionStream(input), chunk.Digest, chunk.Size, what);
            await raw.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ZstdSharp.ZstdException e)
        {
            throw new S3loException(ErrorIds.DigestMismatch, S3loErrorKind.InvalidData, $"The {what} is not a valid zstd frame: {e.Message}", chunk.Digest.ToString(), e);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stop.Cancel();
            // Fetches still running end on the cancellation; their results and failures are of no further use.
            foreach (var pending in _ahead) pending.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
            _ahead.Clear();
        }
        base.Dispose(disposing);
    }
}
