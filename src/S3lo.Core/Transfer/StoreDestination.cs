using System.IO.Compression;
using S3lo.Core.Catalog;
using S3lo.Core.Chunking;
using S3lo.Core.Formats;
using S3lo.Core.IO;
using S3lo.Core.Oci;
using S3lo.Core.Policy;
using S3lo.Core.Storage;

namespace S3lo.Core.Transfer;

/// <summary>How a transfer into a store stores layers (docs/format.md, "Chunking"), within what the store's policy allows.</summary>
public enum LayerChunking
{
    /// <summary>Layers of 1 MiB or more are stored chunked when the store's policy says so (absent means yes): a push.</summary>
    Chunk,

    /// <summary>Layers keep their form: those the source store holds chunked move as chunks (when the policy allows), the
    /// others whole, so the manifest stays the same: a copy.</summary>
    Keep,

    /// <summary>Every layer is stored whole.</summary>
    Whole,
}

/// <summary>
/// A tag of a store as the destination of a transfer: blobs and index children go under <c>blobs/</c> (only those the
/// store lacks; dedup is store-wide by digest), layers chunked or whole (<see cref="LayerChunking"/>), then
/// <c>oci-layout</c> and <c>manifest.json</c> last, with the image's immutability (s3lo.yaml) applied unless forced.
/// </summary>
public sealed class StoreDestination : IGcProtectingDestination, ILayerStoringDestination
{
    private static readonly int ChunksInFlight = Math.Clamp(Environment.ProcessorCount, 2, 4);

    private readonly ImageStore _store;
    private readonly ImageReference _reference;
    private readonly bool _force;
    private readonly LayerChunking _chunking;
    private readonly SemaphoreSlim _stampLock = new(1, 1);
    private readonly ChunkBudget _chunkBudget = ChunkBudget.ForThisMachine();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Digest, LayerForm> _layerForms = new();
    private Task<PolicyDocument>? _policy;
    private bool _chunkFormatStamped;

    /// <summary>How a layer of this transfer is held: a recipe found whole (refreshed alone) or chunks just stored.</summary>
    private enum LayerForm
    {
        FoundRecipe,
        StoredChunks,
    }

    /// <param name="force">Overwrite the tag even when the image is immutable.</param>
    public StoreDestination(ImageStore store, ImageReference reference, bool force, LayerChunking chunking = LayerChunking.Chunk)
    {
        reference.RequireTag("write an image to");
        _store = store;
        _reference = reference;
        _force = force;
        _chunking = chunking;
    }

    public string Description => _reference.ToString();

    /// <summary>
    /// A blob already in the store is reused, and a garbage collection running now sees it unreferenced until
    /// manifest.json is published. Touching it instead of merely checking it makes it younger than the grace period of
    /// any collection that starts from now on, so the blob survives the upload of the others and the tag is whole when
    /// it appears. It cannot help against a collection that judged the blob before the touch, or a transfer slower than
    /// the grace period: <see cref="RefreshAsync"/> handles that after publishing.
    /// </summary>
    public Task<bool> ContainsAsync(Descriptor descriptor, CancellationToken cancellationToken)
        => _store.TouchBlobAsync(descriptor.Digest, cancellationToken);

    /// <summary>
    /// A layer found by its recipe is refreshed by its recipe alone: the collection keeps what a recipe it keeps names. The
    /// chunks of a layer stored now are each refreshed, since one reused from before may have been judged before the recipe
    /// was written; the others as blobs.
    /// </summary>
    public async Task<bool> RefreshAsync(Descriptor descriptor, CancellationToken cancellationToken)
        => _layerForms.TryGetValue(descriptor.Digest, out var form)
            ? form == LayerForm.FoundRecipe
                ? await _store.TouchRecipeAsync(descriptor.Digest, cancellationToken).ConfigureAwait(false)
                : await _store.TouchChunkedLayerAsync(descriptor.Digest, cancellationToken).ConfigureAwait(false) is not null
            : await _store.TouchBlobAsync(descriptor.Digest, cancellationToken).ConfigureAwait(false);

    /// <summary>A store whose <c>chunk_format</c> is not the one S3lo writes is refused for a chunking push, before anything is
    /// written; a copy keeping layers as they are stores them whole there instead.</summary>
    public async Task<bool> TakesLayersAsync(CancellationToken cancellationToken)
    {
        if (_chunking == LayerChunking.Whole) return false;
        var policy = await PolicyAsync(cancellationToken).ConfigureAwait(false);
        if (policy.Chunked == false) return false;
        if (policy.ChunkFormat is { } format && format != ChunkRecipe.SupportedChunkFormat)
        {
            if (_chunking == LayerChunking.Keep) return false;
            throw new S3loException(ErrorIds.UnsupportedChunkFormat, S3loErrorKind.NotImplemented,
                $"{_store.Location} stores chunked layers in chunk_format {format} (s3lo.yaml); this version of S3lo writes chunk_format {ChunkRecipe.SupportedChunkFormat}. Push with -Chunked:$false to store the layers whole.",
                _store.Location.ToString());
        }
        _chunkFormatStamped = policy.ChunkFormat is not null;
        return true;
    }

    /// <summary>
    /// Two requests for a layer pushed chunked before: its <c>layers/</c> entry, which names the recipe, and a touch of the
    /// recipe alone, which checks it is there and makes it young, so that a garbage collection keeps it and, through it, the
    /// file index and chunks it names (docs/format.md, "Garbage collection"); nothing is read back or compressed. Any other
    /// layer stored whole already is taken as it is (one touch).
    /// </summary>
    public async Task<StoredLayer?> FindLayerAsync(LayerToStore layer, CancellationToken cancellationToken)
    {
        var blob = layer.Descriptor;
        if (_chunking == LayerChunking.Chunk && !IsSmallTar(blob) && await _store.FindChunkedLayerAsync(layer.DiffId, cancellationToken).ConfigureAwait(false) is { } entry
            && await FoundChunksAsync(entry, cancellationToken).ConfigureAwait(false) is { } chunks
            && await _store.TouchRecipeAsync(entry.CompressedDigest, cancellationToken).ConfigureAwait(false))
        {
            _layerForms[entry.CompressedDigest] = LayerForm.FoundRecipe;
            return new StoredLayer(new Descriptor(MediaTypes.OciLayerZstd, entry.CompressedDigest, entry.CompressedSize), chunks, 0);
        }
        return await _store.TouchBlobAsync(blob.Digest, cancellationToken).ConfigureAwait(false)
            ? new StoredLayer(blob, ChunkedLayerStats.None, 0)
            : null;
    }

    /// <summary>What reusing the entry's layer reports: from the entry, or from its recipe for an entry that does not record
    /// the chunks (written by an earlier version); null when the recipe is not the entry's layer or cannot be read.</summary>
    private async Task<ChunkedLayerStats?> FoundChunksAsync(LayerEntry entry, CancellationToken cancellationToken)
    {
        if (entry is { Size: { } size, ChunkCount: { } count }) return new ChunkedLayerStats(0, count, size, entry.CompressedSize, 0);
        ChunkRecipe? recipe;
        try
        {
            recipe = await _store.TryGetRecipeAsync(entry.CompressedDigest, cancellationToken).ConfigureAwait(false);
        }
        catch (S3loException e) when (e.ErrorId is ErrorIds.UnsupportedChunkFormat or ErrorIds.InvalidManifest)
        {
            return null;
        }
        return recipe is not null && recipe.Layer == entry.Layer && recipe.CompressedSize == entry.CompressedSize
            ? new ChunkedLayerStats(0, recipe.Chunks.Count, recipe.Size, recipe.CompressedSize, 0)
            : null;
    }

    public async Task<StoredLayer> StoreLayerAsync(LayerToStore layer, Func<CancellationToken, Task<Stream>> open, Action<long> progress,
        CancellationToken cancellationToken)
    {
        var blob = layer.Descriptor;
        if (layer.Source is StoreImageSource { Store: var source } && source != _store
            && await source.TryGetRecipeAsync(blob.Digest, cancellationToken).ConfigureAwait(false) is { } sourceRecipe)
            return await CopyChunkedAsync(source, sourceRecipe, layer.DiffId, progress, cancellationToken).ConfigureAwait(false);
        if (_chunking == LayerChunking.Chunk && !IsSmallTar(blob))
        {
            var content = await open(cancellationToken).ConfigureAwait(false);
            var what = $"layer {blob.Digest} of {Description}";
            long read = 0;
            await using var counted = new CountingReadStream(content, n =>
            {
                read += n;
                progress(n);
            });
            await using var raw = Decompress(counted, blob.MediaType);
            (ChunkRecipe Recipe, ChunkedLayerStats Stats)? written;
            try
            {
                // An uncompressed layer's blob digest is its diff_id: the engine's verifying stream checks it, once.
                var rawIsVerified = content is VerifyingReadStream && Compression(blob.MediaType) == LayerCompression.None && blob.Digest == layer.DiffId;
                written = await new ChunkedLayerWriter(_store.Objects, _chunkBudget)
                    .WriteAsync(raw, layer.DiffId, what, StampChunkFormatAsync, cancellationToken, rawIsVerified).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidDataException or ZstdSharp.ZstdException or S3loException { ErrorId: ErrorIds.InvalidLayer })
            {
                // Bytes that are not the layer's digest explain a failure to uncompress or read them as a tar best.
                if (content is VerifyingReadStream verified) await verified.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
                if (e is S3loException) throw;
                throw new S3loException(ErrorIds.InvalidLayer, S3loErrorKind.InvalidData, $"The {what} cannot be decompressed ({blob.MediaType}): {e.Message}",
                    blob.Digest.ToString(), e);
            }
            if (written is { } w)
            {
                _layerForms[w.Recipe.CompressedDigest] = LayerForm.StoredChunks;
                return new StoredLayer(ChunkedDescriptor(w.Recipe), w.Stats, w.Stats.BytesUploaded);
            }
            // Smaller than a chunk once uncompressed: stored whole, read again.
            progress(-read);
        }
        var whole = await open(cancellationToken).ConfigureAwait(false);
        await _store.PutBlobAsync(blob, whole, progress, cancellationToken).ConfigureAwait(false);
        return new StoredLayer(blob, ChunkedLayerStats.None, blob.Size);
    }

    public async Task PutBlobAsync(Descriptor descriptor, Func<CancellationToken, Task<Stream>> open, Action<long> progress,
        CancellationToken cancellationToken)
    {
        var content = await open(cancellationToken).ConfigureAwait(false);
        await _store.PutBlobAsync(descriptor, content, progress, cancellationToken).ConfigureAwait(false);
    }

    public Task PutManifestAsync(Descriptor entry, Manifest manifest, CancellationToken cancellationToken)
        => _store.PutBlobAsync(entry, new MemoryStream(manifest.Bytes, writable: false), null, cancellationToken);

    /// <summary>What a listing shows of the image is stored with its tag, taken from the image itself rather than from the
    /// store, where a concurrent garbage collection may just have deleted a reused config (restored after the publish).</summary>
    public async Task<TransferResult> PublishAsync(ImageToPublish image, TransferResult result, CancellationToken cancellationToken)
    {
        var root = image.Root;
        var listing = await new ImageCatalog(_store).ListingMetadataAsync(root, image.ReadConfigAsync, image.Child, cancellationToken).ConfigureAwait(false);
        await _store.PublishTagAsync(_reference.Name!, _reference.Tag!, root, _force ? null : PolicyAsync, listing, cancellationToken).ConfigureAwait(false);
        return result with { Reference = Description };
    }

    /// <summary>The store belongs to the caller.</summary>
    public ValueTask DisposeAsync()
    {
        _stampLock.Dispose();
        _chunkBudget.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The store's policy, read once per transfer: it says how layers are stored and whether the tag may be replaced.</summary>
    private Task<PolicyDocument> PolicyAsync(CancellationToken cancellationToken)
    {
        var read = _policy;
        if (read is null || read.IsFaulted || read.IsCanceled) _policy = read = new PolicyStore(_store.Objects).ReadAsync(cancellationToken);
        return read;
    }

    private static Descriptor ChunkedDescriptor(ChunkRecipe recipe) => new(MediaTypes.OciLayerZstd, recipe.CompressedDigest, recipe.CompressedSize);

    /// <summary>An uncompressed layer too small to chunk, known from its size alone; a compressed one must be uncompressed to tell.</summary>
    private static bool IsSmallTar(Descriptor blob) => blob.Size < FastCdc.MinSize && Compression(blob.MediaType) == LayerCompression.None;

    private static LayerCompression Compression(string mediaType)
        => mediaType.EndsWith("gzip", StringComparison.Ordinal) ? LayerCompression.Gzip
            : mediaType.EndsWith("zstd", StringComparison.Ordinal) ? LayerCompression.Zstd
            : LayerCompression.None;

    private static Stream Decompress(Stream content, string mediaType) => Compression(mediaType) switch
    {
        LayerCompression.Gzip => new GZipStream(content, CompressionMode.Decompress, leaveOpen: true),
        LayerCompression.Zstd => new ZstdSharp.DecompressionStream(content, leaveOpen: true),
        _ => new ReadOnlyWrapper(content),
    };

    /// <summary>The first chunked write into a store declares the format in s3lo.yaml, by a conditional write that keeps
    /// the rest of the file; once per destination.</summary>
    private async Task StampChunkFormatAsync(CancellationToken cancellationToken)
    {
        if (_chunkFormatStamped) return;
        await _stampLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_chunkFormatStamped) return;
            await new PolicyStore(_store.Objects).UpdateAsync(document =>
            {
                if (document.ChunkFormat is { } format && format != ChunkRecipe.SupportedChunkFormat)
                    throw new S3loException(ErrorIds.UnsupportedChunkFormat, S3loErrorKind.NotImplemented,
                        $"{_store.Location} was given chunk_format {format} (s3lo.yaml) while this push ran; this version of S3lo writes chunk_format {ChunkRecipe.SupportedChunkFormat}.",
                        _store.Location.ToString());
                if (document.ChunkFormat is null) document.SetChunkFormat(ChunkRecipe.SupportedChunkFormat);
            }, cancellationToken).ConfigureAwait(false);
            _chunkFormatStamped = true;
        }
        finally
        {
            _stampLock.Release();
        }
    }

    /// <summary>
    /// Moves a layer another store holds chunked as it is: each chunk the destination lacks is copied (checked against
    /// its raw digest on the way), then the recipe, file index and <c>layers/</c> entry. The destination's frames, in order,
    /// must hash to the recipe's compressed digest; a chunk it holds compressed otherwise makes that impossible.
    /// </summary>
    private async Task<StoredLayer> CopyChunkedAsync(ImageStore source, ChunkRecipe recipe, Digest diffId, Action<long> progress,
        CancellationToken cancellationToken)
    {
        await StampChunkFormatAsync(cancellationToken).ConfigureAwait(false);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var pending = new Queue<Task<(byte[] Frame, bool Uploaded)>>();
        int uploaded = 0, reused = 0;
        long bytesUploaded = 0;
        try
        {
            foreach (var chunk in recipe.Chunks)
            {
                pending.Enqueue(Task.Run(() => CopyChunkAsync(source, recipe, chunk, cancellationToken), cancellationToken));
                while (pending.Count >= ChunksInFlight) await TakeAsync().ConfigureAwait(false);
            }
            while (pending.Count > 0) await TakeAsync().ConfigureAwait(false);
        }
        finally
        {
            foreach (var task in pending) _ = task.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
        }
        var stored = Digest.FromHash(hash.GetHashAndReset());
        if (stored != recipe.CompressedDigest)
            throw new S3loException(ErrorIds.DigestMismatch, S3loErrorKind.InvalidData,
                $"The chunked layer {recipe.CompressedDigest} cannot move to {_store.Location} as it is: chunks stored there are compressed differently (the frames hash to {stored}). Copy with -Chunked:$false to store it whole.",
                recipe.CompressedDigest.ToString());

        var objects = _store.Objects;
        if (await source.Objects.GetBytesAsync(StoreLayout.IndexKey(recipe.CompressedDigest), Manifest.MaxBytes, cancellationToken).ConfigureAwait(false) is { } index)
            await objects.PutBytesAsync(StoreLayout.IndexKey(recipe.CompressedDigest), index.Bytes, ObjectClass.Metadata, cancellationToken).ConfigureAwait(false);
        await objects.PutBytesAsync(StoreLayout.RecipeKey(recipe.CompressedDigest), ChunkedLayerWriter.RecipeBytes(recipe), ObjectClass.Metadata, cancellationToken)
            .ConfigureAwait(false);
        if (recipe.Layer == diffId)
            await objects.PutBytesAsync(StoreLayout.LayerKey(diffId), ChunkedLayerWriter.LayerEntryBytes(recipe), ObjectClass.Metadata, cancellationToken)
                .ConfigureAwait(false);
        _layerForms[recipe.CompressedDigest] = LayerForm.StoredChunks;
        return new StoredLayer(ChunkedDescriptor(recipe), new ChunkedLayerStats(uploaded, reused, recipe.Size, recipe.CompressedSize, bytesUploaded), bytesUploaded);

        async Task TakeAsync()
        {
            var (frame, wasUploaded) = await pending.Dequeue().ConfigureAwait(false);
            hash.AppendData(frame);
            progress(frame.Length);
            if (wasUploaded)
            {
                uploaded++;
                bytesUploaded += frame.Length;
            }
            else
            {
                reused++;
            }
        }
    }

    private async Task<(byte[] Frame, bool Uploaded)> CopyChunkAsync(ImageStore source, ChunkRecipe recipe, ChunkInfo chunk, CancellationToken cancellationToken)
    {
        var key = StoreLayout.ChunkKey(chunk.Digest);
        var objects = _store.Objects;
        if (await objects.TouchAsync(key, cancellationToken).ConfigureAwait(false)
            && await objects.GetBytesAsync(key, ChunkedLayerStream.MaxStoredChunkBytes, cancellationToken).ConfigureAwait(false) is { } existing)
            return (existing.Bytes, false);
        var frame = await ChunkedLayerStream.FetchChunkAsync(source.Objects, recipe, chunk, cancellationToken).ConfigureAwait(false);
        try
        {
            await objects.PutBytesAsync(key, frame, ObjectClass.Blob, WriteCondition.IfNotExists, cancellationToken).ConfigureAwait(false);
            return (frame, true);
        }
        catch (PreconditionFailedException)
        {
            var stored = await objects.GetBytesAsync(key, ChunkedLayerStream.MaxStoredChunkBytes, cancellationToken).ConfigureAwait(false)
                         ?? throw new PreconditionFailedException(key, objects.Location);
            return (stored.Bytes, false);
        }
    }

    /// <summary>A plain tar passes through; the wrapper keeps the caller's stream open like the decompressors do.</summary>
    private sealed class ReadOnlyWrapper(Stream inner) : ReadOnlyStream
    {
        public override long Length => inner.Length;

        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
    }
}
