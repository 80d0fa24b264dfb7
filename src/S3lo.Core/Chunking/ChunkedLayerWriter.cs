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
/// Memory is bounded by the <see cref="ChunkBudget"/> the writers of one destination share: the window a layer is read
/// into becomes the cut chunk's raw buffer (the rest moves to a fresh one), and a chunk in flight holds a slot from
/// before it is compressed until its frame (compressed, or read back into a frame buffer) is hashed in order.
/// </summary>
internal sealed class ChunkedLayerWriter(IObjectStore objects, ChunkBudget budget)
{
    private const int CompressionLevel = 3;
    private const long MaxStoredChunkBytes = 17L << 20;
    private const int ReadStep = 1 << 20;

    /// <summary>
    /// Reads <paramref name="raw"/> (the uncompressed tar) to the end and stores it chunked; null, with nothing
    /// written, for a layer smaller than <see cref="FastCdc.MinSize"/>. <paramref name="beforeFirstChunk"/> runs once,
    /// before the first chunk is stored. The tar's digest must be <paramref name="diffId"/> (the config's); it is checked
    /// here unless <paramref name="rawIsVerified"/> says <paramref name="raw"/> checks that digest itself as it ends (an
    /// uncompressed layer, whose blob digest is its diff_id, read through the engine's verifying stream).
    /// </summary>
    public async Task<(ChunkRecipe Recipe, ChunkedLayerStats Stats)?> WriteAsync(Stream raw, Digest diffId, string what,
        Func<CancellationToken, Task> beforeFirstChunk, CancellationToken cancellationToken, bool rawIsVerified = false)
    {
        await budget.EnterLayerAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await WriteLayerAsync(raw, diffId, what, beforeFirstChunk, rawIsVerified, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            budget.LeaveLayer();
        }
    }

    private async Task<(ChunkRecipe Recipe, ChunkedLayerStats Stats)?> WriteLayerAsync(Stream raw, Digest diffId, string what,
        Func<CancellationToken, Task> beforeFirstChunk, bool rawIsVerified, CancellationToken cancellationToken)
    {
        var indexer = new TarFileIndexer(what);
        using var rawHash = rawIsVerified ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var compressedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[]? window = budget.RentRaw();
        var pending = new Queue<Task<StoredChunk>>();
        var chunks = new List<ChunkInfo>();
        int uploaded = 0, reused = 0;
        long total = 0, compressedTotal = 0, bytesUploaded = 0;
        var started = false;
        try
        {
            var fill = 0;
            var ended = false;
            var scan = FastCdc.CutScan.Start;
            while (true)
            {
                // Read in steps until the cut is found: a buffer is written only as far as its chunk reaches, and what is
                // read past the cut, moved on to the next window, is one step at most.
                int length;
                while (true)
                {
                    var target = Math.Min(FastCdc.MaxSize, Math.Max(fill, FastCdc.MinSize) + ReadStep);
                    while (!ended && fill < target)
                    {
                        var n = await raw.ReadAsync(window.AsMemory(fill, target - fill), cancellationToken).ConfigureAwait(false);
                        if (n == 0)
                        {
                            ended = true;
                            break;
                        }
                        indexer.Feed(window.AsSpan(fill, n));
                        rawHash?.AppendData(window, fill, n);
                        fill += n;
                        total += n;
                    }
                    length = FastCdc.FindCut(window.AsSpan(0, fill), ref scan);
                    if (length > 0 || ended) break;
                }
                if (fill == 0) break;
                if (length == 0) length = fill;
                if (!started)
                {
                    if (ended && total < FastCdc.MinSize) return null;
                    if (ended) indexer.Complete();
                    await beforeFirstChunk(cancellationToken).ConfigureAwait(false);
                    started = true;
                }

                // A slot first: the chunks of this layer already in flight are taken in order to free one, never waited on by another layer.
                while (!budget.TryEnterChunk())
                {
                    if (pending.Count > 0)
                    {
                        await TakeAsync().ConfigureAwait(false);
                        continue;
                    }
                    await budget.EnterChunkAsync(cancellationToken).ConfigureAwait(false);
                    break;
                }
                var chunk = window;
                window = budget.RentRaw();
                Buffer.BlockCopy(chunk, length, window, 0, fill - length);
                fill -= length;
                scan = FastCdc.CutScan.Start;
                pending.Enqueue(Task.Run(() => StoreChunkAsync(chunk, length, what, cancellationToken)));
                while (pending.Count > 0 && pending.Peek().IsCompleted) await TakeAsync().ConfigureAwait(false);
            }
            while (pending.Count > 0) await TakeAsync().ConfigureAwait(false);
        }
        finally
        {
            if (window is not null) budget.ReturnRaw(window);
            // A failure leaves chunks being stored; they are content-addressed, so whatever of them lands is garbage a
            // collection removes, never a wrong object. The failure is reported once they have ended, so none of their
            // temporary files outlives the push; their slots and buffers come back as they end.
            while (pending.Count > 0)
            {
                try
                {
                    Release(await pending.Dequeue().ConfigureAwait(false));
                }
                catch
                {
                    budget.LeaveChunk();
                }
            }
        }
        indexer.Complete();

        // A verified stream threw at its end if the bytes were not the diff_id's.
        var layer = rawHash is null ? diffId : Digest.FromHash(rawHash.GetHashAndReset());
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
            StoredChunk stored;
            try
            {
                stored = await pending.Dequeue().ConfigureAwait(false);
            }
            catch
            {
                budget.LeaveChunk();
                throw;
            }
            compressedHash.AppendData(stored.Frame, 0, stored.Length);
            chunks.Add(new ChunkInfo(stored.Digest, stored.Size, stored.Length));
            compressedTotal += stored.Length;
            if (stored.Uploaded)
            {
                uploaded++;
                bytesUploaded += stored.Length;
            }
            else
            {
                reused++;
            }
            Release(stored);
        }

        void Release(StoredChunk stored)
        {
            if (stored.Pooled) budget.ReturnFrame(stored.Frame);
            budget.LeaveChunk();
        }
    }

    /// <summary>A chunk as stored: its frame is <c>Frame[..Length]</c>, in a buffer of the budget when <c>Pooled</c>.</summary>
    private sealed record StoredChunk(Digest Digest, long Size, byte[] Frame, int Length, bool Pooled, bool Uploaded);

    /// <summary>
    /// Stores one chunk unless the store has it; returns the frame as stored, in a frame buffer of the budget. A chunk
    /// already there is touched first, so a collection starting now sees it as new, and read back: its bytes, not a fresh
    /// compression, make the layer's digest. The raw buffer goes back to the budget once the chunk is compressed or its
    /// stored frame checked (a chunk gone between the touch and the read is stored from it).
    /// </summary>
    private async Task<StoredChunk> StoreChunkAsync(byte[] buffer, int length, string what, CancellationToken cancellationToken)
    {
        Digest digest;
        byte[] frame;
        int frameLength;
        try
        {
            digest = Digest.FromHash(SHA256.HashData(buffer.AsSpan(0, length)));
            var key = StoreLayout.ChunkKey(digest);
            if (await objects.TouchAsync(key, cancellationToken).ConfigureAwait(false)
                && await ReadStoredAsync(key, digest, length, what, cancellationToken).ConfigureAwait(false) is { } existing)
                return existing;

            frame = budget.RentFrame();
            try
            {
                using var compressor = new ZstdSharp.Compressor(CompressionLevel);
                frameLength = compressor.Wrap(buffer.AsSpan(0, length), frame);
            }
            catch
            {
                budget.ReturnFrame(frame);
                throw;
            }
        }
        finally
        {
            budget.ReturnRaw(buffer);
        }
        var chunkKey = StoreLayout.ChunkKey(digest);
        try
        {
            await objects.PutBytesAsync(chunkKey, frame.AsMemory(0, frameLength), ObjectClass.Blob, WriteCondition.IfNotExists, cancellationToken)
                .ConfigureAwait(false);
            return new StoredChunk(digest, length, frame, frameLength, true, true);
        }
        catch (PreconditionFailedException)
        {
            budget.ReturnFrame(frame);
            // Another push stored it meanwhile, perhaps compressed differently: its bytes are the chunk's.
            return await ReadStoredAsync(chunkKey, digest, length, what, cancellationToken).ConfigureAwait(false)
                   ?? throw new PreconditionFailedException(chunkKey, objects.Location);
        }
        catch
        {
            budget.ReturnFrame(frame);
            throw;
        }
    }

    /// <summary>
    /// A stored chunk, read into a frame buffer of the budget (one larger than any frame S3lo writes, for a frame another
    /// writer stored bigger, up to <see cref="MaxStoredChunkBytes"/>), and checked to be one zstd stream of exactly the
    /// chunk's bytes: a layer built on a corrupt chunk would fail every read, so the push fails instead, before its recipe
    /// is written. Null when the chunk is not there.
    /// </summary>
    private async Task<StoredChunk?> ReadStoredAsync(string key, Digest digest, int size, string what, CancellationToken cancellationToken)
    {
        Stream stream;
        try
        {
            stream = await objects.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectNotFoundException)
        {
            return null;
        }
        var frame = budget.RentFrame();
        var pooled = true;
        try
        {
            var length = 0;
            await using (stream.ConfigureAwait(false))
            {
                while (true)
                {
                    if (length == frame.Length)
                    {
                        if (length >= MaxStoredChunkBytes)
                        {
                            if (await stream.ReadAsync(new byte[1], cancellationToken).ConfigureAwait(false) > 0)
                                throw StoreErrors.TooLarge(key, MaxStoredChunkBytes);
                            break;
                        }
                        var larger = new byte[MaxStoredChunkBytes];
                        Buffer.BlockCopy(frame, 0, larger, 0, length);
                        budget.ReturnFrame(frame);
                        frame = larger;
                        pooled = false;
                    }
                    var n = await stream.ReadAsync(frame.AsMemory(length), cancellationToken).ConfigureAwait(false);
                    if (n == 0) break;
                    length += n;
                }
            }
            var chunk = $"chunk {digest} of the {what} ({key} in {objects.Location})";
            try
            {
                using var stored = new MemoryStream(frame, 0, length, writable: false);
                await using var content = new IO.VerifyingReadStream(new ZstdSharp.DecompressionStream(stored), digest, size, "stored " + chunk);
                await content.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ZstdSharp.ZstdException e)
            {
                throw new S3loException(ErrorIds.DigestMismatch, S3loErrorKind.InvalidData, $"The stored {chunk} is not a valid zstd frame: {e.Message}",
                    digest.ToString(), e);
            }
            return new StoredChunk(digest, size, frame, length, pooled, false);
        }
        catch
        {
            if (pooled) budget.ReturnFrame(frame);
            throw;
        }
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
            json.WriteNumber("size", recipe.Size);
            json.WriteNumber("chunkCount", recipe.Chunks.Count);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
