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
/// compressed digest, which the caller checks as for any blob. A few chunks are fetched ahead, one frame each in memory.
/// </summary>
internal sealed class ChunkedLayerStream : ReadOnlyStream
{
    // A raw chunk is at most 16 MiB; zstd adds a few bytes per 128 KiB block when it cannot compress.
    internal const long MaxStoredChunkBytes = 17L << 20;
    private const int ChunksAhead = 2;

    private readonly IObjectStore _objects;
    private readonly ChunkRecipe _recipe;
    private readonly CancellationTokenSource _stop = new();
    private readonly Queue<Task<byte[]>> _ahead = new();
    private int _nextToFetch;
    private byte[] _current = [];
    private int _offset;
    private int _skipInFirst;
    private readonly int _endChunk;
    private long _read;
    private readonly bool _checkEachChunk;

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
            while (_ahead.Count < ChunksAhead && _nextToFetch < _endChunk)
            {
                var chunk = _recipe.Chunks[_nextToFetch++];
                _ahead.Enqueue(Task.Run(() => _checkEachChunk ? FetchChunkAsync(_objects, _recipe, chunk, _stop.Token)
                    : FetchFrameAsync(_objects, _recipe, chunk, _stop.Token)));
            }
            if (_ahead.Count == 0) return 0;
            _current = await _ahead.Dequeue().WaitAsync(cancellationToken).ConfigureAwait(false);
            _offset = Math.Min(_skipInFirst, _current.Length);
            _skipInFirst = 0;
        }
        var n = Math.Min(buffer.Length, _current.Length - _offset);
        _current.AsMemory(_offset, n).CopyTo(buffer);
        _offset += n;
        _read += n;
        return n;
    }

    /// <summary>One chunk's stored frame, unchecked (its size only): for a reader that checks the layer digest over all frames.</summary>
    private static async Task<byte[]> FetchFrameAsync(IObjectStore objects, ChunkRecipe recipe, ChunkInfo chunk, CancellationToken cancellationToken)
    {
        var bytes = await GetFrameAsync(objects, recipe, chunk, cancellationToken).ConfigureAwait(false);
        if (bytes.Length != chunk.CompressedSize)
            throw new S3loException(ErrorIds.SizeMismatch, S3loErrorKind.InvalidData,
                $"The chunk {chunk.Digest} of the layer {recipe.CompressedDigest} in {objects.Location} has {bytes.Length} stored bytes, but its recipe states {chunk.CompressedSize}.",
                chunk.Digest.ToString());
        return bytes;
    }

    private static async Task<byte[]> GetFrameAsync(IObjectStore objects, ChunkRecipe recipe, ChunkInfo chunk, CancellationToken cancellationToken)
    {
        var key = StoreLayout.ChunkKey(chunk.Digest);
        var stored = await objects.GetBytesAsync(key, MaxStoredChunkBytes, cancellationToken).ConfigureAwait(false)
                     ?? throw new S3loException(ErrorIds.BlobNotFound, S3loErrorKind.NotFound,
                         $"The chunk {chunk.Digest} of the layer {recipe.CompressedDigest} in {objects.Location} is missing ({key}).", chunk.Digest.ToString());
        return stored.Bytes;
    }

    /// <summary>One chunk's stored frame, checked to decompress to the chunk's raw size and digest.</summary>
    internal static async Task<byte[]> FetchChunkAsync(IObjectStore objects, ChunkRecipe recipe, ChunkInfo chunk, CancellationToken cancellationToken)
    {
        var what = $"chunk {chunk.Digest} of the layer {recipe.CompressedDigest} in {objects.Location}";
        var stored = await GetFrameAsync(objects, recipe, chunk, cancellationToken).ConfigureAwait(false);
        // The frame's bytes are what the layer digest covers; its raw content must be the chunk the recipe names.
        try
        {
            using var frame = new MemoryStream(stored, writable: false);
            await using var raw = new VerifyingReadStream(new ZstdSharp.DecompressionStream(frame), chunk.Digest, chunk.Size, what);
            await raw.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ZstdSharp.ZstdException e)
        {
            throw new S3loException(ErrorIds.DigestMismatch, S3loErrorKind.InvalidData, $"The {what} is not a valid zstd frame: {e.Message}", chunk.Digest.ToString(), e);
        }
        return stored;
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
