using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Chunking;

/// <summary>What storing one layer chunked did.</summary>
public sealed record ChunkedLayerStats(int ChunksUploaded, int ChunksReused, long RawBytes, long CompressedBytes, long BytesUploaded)
{
    public static readonly ChunkedLayerStats None = new(0, 0, 0, 0, 0);

    public ChunkedLayerStats Add(ChunkedLayerStats other)
        => new(ChunksUploaded + other.ChunksUploaded, ChunksReused + other.ChunksReused, RawBytes + other.RawBytes,
            CompressedBytes + other.CompressedBytes, BytesUploaded + other.BytesUploaded);
}

/// <summary>
/// Stores a layer chunked (docs/format.md, "Chunking", chunk_format 1) from its uncompressed tar as it streams: cut by
/// <see cref="FastCdc"/>, each chunk compressed as one zstd frame (level 3) and stored under <c>chunks/</c> unless it is
/// there already, then the recipe, the file index and the layer's <c>layers/</c> entry (S3lo's own: the compressed
/// digest for the diff_id, so a push of the same layer finds it without compressing it again). The compressed digest
/// covers the frames as stored: a chunk already in the store keeps its bytes, and is read back for it.
/// Memory is bounded: a 16 MiB window, and per chunk in flight its raw bytes (until compressed) and its frame (until
/// hashed in order), at most <see cref="ChunksInFlight"/> of them.
/// </summary>
internal sealed class ChunkedLayerWriter(IObjectStore objects)
{
    private const int CompressionLevel = 3;
    private const long MaxStoredChunkBytes = 17L << 20;
    private static readonly int ChunksInFlight = Math.Clamp(Environment.ProcessorCount, 2, 4);

    /// <summary>
    /// Reads <paramref name="raw"/> (the uncompressed tar) to the end and stores it chunked; null, with nothing
    /// written, for a layer smaller than <see cref="FastCdc.MinSize"/>. <paramref name="beforeFirstChunk"/> runs once,
    /// before the first chunk is stored. The tar's digest must be <paramref name="diffId"/> (the config's).
    /// </summary>
    public async Task<(ChunkRecipe Recipe, ChunkedLayerStats Stats)?> WriteAsync(Stream raw, Digest diffId, string what,
        Func<CancellationToken, Task> beforeFirstChunk, CancellationToken cancellationToken)
    {
        var indexer = new TarFileIndexer(what);
        using var rawHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var compressedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var window = ArrayPool<byte>.Shared.Rent(FastCdc.MaxSize);
        var pending = new Queue<Task<StoredChunk>>();
        var chunks = new List<ChunkInfo>();
        int uploaded = 0, reused = 0;
        long total = 0, compressedTotal = 0, bytesUploaded = 0;
        var started = false;
        try
        {
            var fill = 0;
            var ended = false;
            while (true)
            {
                while (!ended && fill < FastCdc.MaxSize)
                {
                    var n = await raw.ReadAsync(window.AsMemory(fill, FastCdc.MaxSize - fill), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        ended = true;
                        break;
                    }
                    indexer.Feed(window.AsSpan(fill, n));
                    rawHash.AppendData(window, fill, n);
                    fill += n;
                    total += n;
                }
                if (fill == 0) break;
                if (!started)
                {
                    if (ended && total < FastCdc.MinSize) return null;
                    if (ended) indexer.Complete();
                    await beforeFirstChunk(cancellationToken).ConfigureAwait(false);
                    started = true;
                }

                var length = FastCdc.NextCut(window.AsSpan(0, fill));
                var chunk = ArrayPool<byte>.Shared.Rent(length);
                Buffer.BlockCopy(window, 0, chunk, 0, length);
                Buffer.BlockCopy(window, length, window, 0, fill - length);
                fill -= length;
                pending.Enqueue(Task.Run(() => StoreChunkAsync(chunk, length, what, cancellationToken), cancellationToken));
                while (pending.Count >= ChunksInFlight || (pending.Count > 0 && pending.Peek().IsCompleted)) await TakeAsync().ConfigureAwait(false);
            }
            while (pending.Count > 0) await TakeAsync().ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(window);
            // A failure leaves chunks being stored; they are content-addressed, so whatever of them lands is garbage a
            // collection removes, never a wrong object.
            foreach (var task in pending) _ = task.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
        }
        indexer.Complete();

        var layer = Digest.FromHash(rawHash.GetHashAndReset());
        if (layer != diffId)
            throw new S3loException(ErrorIds.DigestMismatch, S3loErrorKind.InvalidData,
                $"The {what} uncompresses to {layer}, but the image config lists {diffId} for it.", diffId.ToString());
        var compressedDigest = Digest.FromHash(compressedHash.GetHashAndReset());
        var recipe = new ChunkRecipe(layer, total, compressedDigest, compressedTotal, chunks);
        await objects.PutBytesAsync(StoreLayout.IndexKey(compressedDigest), FileIndexBytes(layer, indexer.Files), ObjectClass.Metadata, cancellationToken)
            .ConfigureAwait(false);
        await objects.PutBytesAsync(StoreLayout.RecipeKey(compressedDigest), RecipeBytes(recipe), ObjectClass.Metadata, cancellationToken).ConfigureAwait(false);
        await objects.PutBytesAsync(StoreLayout.LayerKey(layer), LayerEntryBytes(recipe), ObjectClass.Metadata, cancellationToken).ConfigureAwait(false);
        return (recipe, new ChunkedLayerStats(uploaded, reused, total, compressedTotal, bytesUploaded));

        async Task TakeAsync()
        {
            var stored = await pending.Dequeue().ConfigureAwait(false);
            compressedHash.AppendData(stored.Frame);
            chunks.Add(new ChunkInfo(stored.Digest, stored.Size, stored.Frame.Length));
            compressedTotal += stored.Frame.Length;
            if (stored.Uploaded)
            {
                uploaded++;
                bytesUploaded += stored.Frame.Length;
            }
            else
            {
                reused++;
            }
        }
    }

    private sealed record StoredChunk(Digest Digest, long Size, byte[] Frame, bool Uploaded);

    /// <summary>
    /// Stores one chunk unless the store has it; returns the frame as stored. A chunk already there is touched first, so a
    /// collection starting now sees it as new, and read back: its bytes, not a fresh compression, make the layer's digest.
    /// </summary>
    private async Task<StoredChunk> StoreChunkAsync(byte[] buffer, int length, string what, CancellationToken cancellationToken)
    {
        Digest digest;
        byte[] frame;
        try
        {
            digest = Digest.FromHash(SHA256.HashData(buffer.AsSpan(0, length)));
            var key = StoreLayout.ChunkKey(digest);
            if (await objects.TouchAsync(key, cancellationToken).ConfigureAwait(false)
                && await ReadStoredAsync(key, digest, length, what, cancellationToken).ConfigureAwait(false) is { } existing)
                return new StoredChunk(digest, length, existing, false);

            using (var compressor = new ZstdSharp.Compressor(CompressionLevel)) frame = compressor.Wrap(buffer.AsSpan(0, length)).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        var chunkKey = StoreLayout.ChunkKey(digest);
        try
        {
            await objects.PutBytesAsync(chunkKey, frame, ObjectClass.Blob, WriteCondition.IfNotExists, cancellationToken).ConfigureAwait(false);
            return new StoredChunk(digest, length, frame, true);
        }
        catch (PreconditionFailedException)
        {
            // Another push stored it meanwhile, perhaps compressed differently: its bytes are the chunk's.
            var stored = await ReadStoredAsync(chunkKey, digest, length, what, cancellationToken).ConfigureAwait(false)
                         ?? throw new PreconditionFailedException(chunkKey, objects.Location);
            return new StoredChunk(digest, length, stored, false);
        }
    }

    /// <summary>A stored chunk, checked to be one zstd stream of exactly the chunk's bytes: a layer built on a corrupt chunk
    /// would fail every read, so the push fails instead, before its recipe is written.</summary>
    private async Task<byte[]?> ReadStoredAsync(string key, Digest digest, long size, string what, CancellationToken cancellationToken)
    {
        var stored = await objects.GetBytesAsync(key, MaxStoredChunkBytes, cancellationToken).ConfigureAwait(false);
        if (stored is null) return null;
        var chunk = $"chunk {digest} of the {what} ({key} in {objects.Location})";
        try
        {
            using var frame = new MemoryStream(stored.Bytes, writable: false);
            await using var content = new IO.VerifyingReadStream(new ZstdSharp.DecompressionStream(frame), digest, size, "stored " + chunk);
            await content.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ZstdSharp.ZstdException e)
        {
            throw new S3loException(ErrorIds.DigestMismatch, S3loErrorKind.InvalidData, $"The stored {chunk} is not a valid zstd frame: {e.Message}",
                digest.ToString(), e);
        }
        return stored.Bytes;
    }

    internal static byte[] RecipeBytes(ChunkRecipe recipe)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("layer", recipe.Layer.Hex);
            json.WriteNumber("size", recipe.Size);
            json.WriteString("compressedDigest", recipe.CompressedDigest.Hex);
            json.WriteNumber("compressedSize", recipe.CompressedSize);
            json.WriteStartArray("chunks");
            foreach (var chunk in recipe.Chunks)
            {
                json.WriteStartObject();
                json.WriteString("digest", chunk.Digest.Hex);
                json.WriteNumber("size", chunk.Size);
                json.WriteNumber("compressedSize", chunk.CompressedSize);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    internal static byte[] FileIndexBytes(Digest layer, IReadOnlyList<IndexedFile> files)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("layer", layer.Hex);
            json.WriteStartArray("files");
            foreach (var file in files)
            {
                json.WriteStartObject();
                json.WriteString("path", file.Path);
                if (file.Link is not null)
                {
                    json.WriteString("link", file.Link);
                }
                else
                {
                    json.WriteNumber("offset", file.Offset!.Value);
                    json.WriteNumber("size", file.Size!.Value);
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        using var compressor = new ZstdSharp.Compressor(CompressionLevel);
        return compressor.Wrap(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)).ToArray();
    }

    internal static byte[] LayerEntryBytes(ChunkRecipe recipe)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("layer", recipe.Layer.Hex);
            json.WriteString("compressedDigest", recipe.CompressedDigest.Hex);
            json.WriteNumber("compressedSize", recipe.CompressedSize);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
