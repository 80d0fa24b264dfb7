using System.Runtime.CompilerServices;
using S3lo.Core.IO;
using S3lo.Core.Oci;
using S3lo.Core.Policy;

namespace S3lo.Core.Storage;

/// <summary>A tag as listed: its key's metadata, before its manifest is read.</summary>
public sealed record TagEntry(string Name, string Tag, ObjectInfo ManifestObject);

/// <summary>A tag with its manifest read and parsed, and the object metadata stored with it (empty when none).</summary>
public sealed record TagManifest(string Name, string Tag, Manifest Manifest, ObjectInfo ManifestObject)
{
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = ObjectMetadata.None;
}

/// <summary>S3lo's <c>layers/</c> entry of a layer it stored chunked (docs/format.md, "Layer entries"): the recipe's compressed
/// digest and size for the diff_id, and the raw size and chunk count when the entry records them (older entries do not).</summary>
public sealed record LayerEntry(Digest Layer, Digest CompressedDigest, long CompressedSize, long? Size, int? ChunkCount);

/// <summary>The image-level operations of the store format, over any <see cref="IObjectStore"/>.</summary>
public sealed class ImageStore : IAsyncDisposable
{
    private readonly object _chunkFormatLock = new();
    private Task<int?>? _chunkFormat;

    public ImageStore(IObjectStore objects) => Objects = objects;

    public IObjectStore Objects { get; }
    public StoreLocation Location => Objects.Location;

    public static async Task<ImageStore> OpenAsync(StoreLocation location, CancellationToken cancellationToken)
        => new(await StoreProviders.OpenAsync(location, cancellationToken).ConfigureAwait(false));

    /// <summary>Every tag whose image name starts with <paramref name="namePrefix"/> (all when empty), as listing pages arrive.</summary>
    public async IAsyncEnumerable<TagEntry> ListTagsAsync(string namePrefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var o in Objects.ListAsync(StoreLayout.ManifestsPrefix + namePrefix, cancellationToken).ConfigureAwait(false))
        {
            if (StoreLayout.TryParseManifestKey(o.Key, out var name, out var tag)) yield return new TagEntry(name, tag, o);
        }
    }

    public async Task<TagManifest?> TryGetTagAsync(string name, string tag, CancellationToken cancellationToken)
    {
        var stored = await Objects.GetBytesAsync(StoreLayout.ManifestKey(name, tag), Manifest.MaxBytes, cancellationToken).ConfigureAwait(false);
        return stored is null ? null : new TagManifest(name, tag, Manifest.Parse(stored.Bytes), stored.Info) { Metadata = stored.Metadata };
    }

    public async Task<TagManifest> GetTagAsync(string name, string tag, CancellationToken cancellationToken)
        => await TryGetTagAsync(name, tag, cancellationToken).ConfigureAwait(false)
           ?? throw ImageNotFound($"{Location}{name}:{tag}");

    /// <summary>Reads a manifest stored as a blob (the children of an index), checked against its digest.</summary>
    public async Task<Manifest> GetManifestBlobAsync(Descriptor descriptor, CancellationToken cancellationToken)
    {
        var stored = await Objects.GetBytesAsync(StoreLayout.BlobKey(descriptor.Digest), Manifest.MaxBytes, cancellationToken).ConfigureAwait(false)
                     ?? throw BlobNotFound(descriptor.Digest);
        var actual = Digest.Compute(stored.Bytes);
        if (actual != descriptor.Digest)
            throw new S3loException(ErrorIds.DigestMismatch, S3loErrorKind.InvalidData,
                $"The manifest blob {descriptor.Digest} in {Location} does not match its digest (its bytes hash to {actual}).", descriptor.Digest.ToString());
        return Manifest.Parse(stored.Bytes, descriptor.MediaType);
    }

    public async Task<bool> BlobExistsAsync(Digest digest, CancellationToken cancellationToken)
        => await Objects.HeadAsync(StoreLayout.BlobKey(digest), cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>Refreshes a blob's LastModified so a garbage collection sees it as new; false when it does not exist.
    /// A layer stored chunked counts as existing when its recipe and every chunk do: all of them are refreshed (and its
    /// file index), since a collection removes each on its own.</summary>
    public async Task<bool> TouchBlobAsync(Digest digest, CancellationToken cancellationToken)
    {
        if (await Objects.TouchAsync(StoreLayout.BlobKey(digest), cancellationToken).ConfigureAwait(false)) return true;
        return await TouchChunkedLayerAsync(digest, cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <summary>Refreshes a layer stored chunked (recipe, chunks, file index) and returns its recipe; null when it is not
    /// stored chunked, or not whole (a chunk is missing), or in a chunked form this version cannot read.</summary>
    public async Task<ChunkRecipe?> TouchChunkedLayerAsync(Digest layer, CancellationToken cancellationToken)
    {
        ChunkRecipe? recipe;
        try
        {
            recipe = await TryGetRecipeAsync(layer, cancellationToken).ConfigureAwait(false);
        }
        catch (S3loException e) when (e.ErrorId is ErrorIds.UnsupportedChunkFormat or ErrorIds.InvalidManifest)
        {
            // A chunked form this version cannot read does not count: the blob is uploaded whole beside it.
            return null;
        }
        if (recipe is null) return null;
        var whole = true;
        await Parallel.ForEachAsync(recipe.Chunks.DistinctBy(c => c.Digest), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (chunk, ct) =>
            {
                if (!await Objects.TouchAsync(StoreLayout.ChunkKey(chunk.Digest), ct).ConfigureAwait(false)) whole = false;
            }).ConfigureAwait(false);
        if (!whole || !await Objects.TouchAsync(StoreLayout.RecipeKey(layer), cancellationToken).ConfigureAwait(false)) return null;
        // The file index is for readers of single files; a layer lacking one is still whole.
        await Objects.TouchAsync(StoreLayout.IndexKey(layer), cancellationToken).ConfigureAwait(false);
        return recipe;
    }

    /// <summary>
    /// Refreshes the recipe of a layer stored chunked, alone; false when there is none. A recipe that a garbage collection
    /// keeps protects the file index and chunks it names (docs/format.md, "Garbage collection"), so a layer whose recipe is
    /// there is taken as whole: a chunk goes only with every recipe naming it.
    /// </summary>
    public Task<bool> TouchRecipeAsync(Digest layer, CancellationToken cancellationToken)
        => Objects.TouchAsync(StoreLayout.RecipeKey(layer), cancellationToken);

    /// <summary>The layer S3lo stored chunked for this diff_id (its <c>layers/</c> entry), or null.
    /// Only a pointer: the caller checks the recipe is still there.</summary>
    public async Task<LayerEntry?> FindChunkedLayerAsync(Digest diffId, CancellationToken cancellationToken)
    {
        var stored = await Objects.GetBytesAsync(StoreLayout.LayerKey(diffId), 64 << 10, cancellationToken).ConfigureAwait(false);
        if (stored is null) return null;
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(stored.Bytes);
            var root = document.RootElement;
            if (root.GetProperty("layer").GetString() != diffId.Hex) return null;
            var entry = new LayerEntry(diffId, Digest.FromHex(root.GetProperty("compressedDigest").GetString() ?? ""),
                root.GetProperty("compressedSize").GetInt64(),
                root.TryGetProperty("size", out var size) ? size.GetInt64() : null,
                root.TryGetProperty("chunkCount", out var count) ? count.GetInt32() : null);
            return entry.CompressedSize > 0 && entry.Size is null or > 0 && entry.ChunkCount is null or > 0 ? entry : null;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException or FormatException or S3loException)
        {
            // A damaged entry only costs compressing the layer again, which writes it anew.
            return null;
        }
    }

    /// <summary>Opens a blob for reading; the stream throws <c>DigestMismatch</c> at its end if the bytes are not the digest's.</summary>
    /// <param name="checkEachChunk">False: of a chunked layer, the frames are checked only as the whole, against the layer
    /// digest (which names every byte the stream returns), not also decompressed and hashed chunk by chunk. The server reads
    /// so; readers that go on to use a chunk's raw content keep the default.</param>
    public async Task<VerifyingReadStream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken, bool checkEachChunk = true)
    {
        var raw = await OpenBlobContentAsync(descriptor, cancellationToken, checkEachChunk).ConfigureAwait(false);
        return new VerifyingReadStream(raw, descriptor.Digest, descriptor.Size, $"blob {descriptor.Digest} in {Location}");
    }

    /// <summary>Opens a blob's bytes, unchecked: the object under <c>blobs/</c>, or for a layer another client stored
    /// chunked, its chunks' frames in order (each chunk checked against its raw digest); else <c>BlobNotFound</c>.</summary>
    public async Task<Stream> OpenBlobContentAsync(Descriptor descriptor, CancellationToken cancellationToken, bool checkEachChunk = true)
    {
        try
        {
            return await Objects.OpenReadAsync(StoreLayout.BlobKey(descriptor.Digest), cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectNotFoundException)
        {
            var recipe = await TryGetRecipeAsync(descriptor.Digest, cancellationToken).ConfigureAwait(false) ?? throw BlobNotFound(descriptor.Digest);
            return new ChunkedLayerStream(Objects, recipe, checkEachChunk: checkEachChunk);
        }
    }

    /// <summary>Opens <paramref name="length"/> bytes of a blob from <paramref name="offset"/>, unchecked as a whole (a part
    /// cannot be checked against the blob's digest). Only that part is read: the object from the offset for the length (a
    /// seek, a ranged GET; on a store that cannot, what comes before is read and skipped), and of a chunked layer only the
    /// chunks the part overlaps, each still checked whole against its raw digest.</summary>
    public async Task<Stream> OpenBlobContentAsync(Descriptor descriptor, long offset, long length, CancellationToken cancellationToken)
    {
        var key = StoreLayout.BlobKey(descriptor.Digest);
        try
        {
            if (Objects is IRangedReads ranged) return await ranged.OpenReadAsync(key, offset, length, cancellationToken).ConfigureAwait(false);
            var whole = await Objects.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
            try
            {
                await SkipAsync(whole, offset, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await whole.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            return whole;
        }
        catch (ObjectNotFoundException)
        {
            var recipe = await TryGetRecipeAsync(descriptor.Digest, cancellationToken).ConfigureAwait(false) ?? throw BlobNotFound(descriptor.Digest);
            return new ChunkedLayerStream(Objects, recipe, offset, length);
        }
    }

    /// <summary>A URL that reads the blob whole for <paramref name="validFor"/> (-Redirect), or null when the store cannot sign
    /// reads or holds the blob only as chunks (which a client cannot read as the blob).</summary>
    public async Task<Uri?> TryPresignBlobAsync(Digest digest, TimeSpan validFor, CancellationToken cancellationToken)
    {
        if (Objects is not IPresignedReads { PresignUnavailableReason: null } signer) return null;
        if (!await BlobExistsAsync(digest, cancellationToken).ConfigureAwait(false)) return null;
        return await signer.PresignReadAsync(StoreLayout.BlobKey(digest), validFor, cancellationToken).ConfigureAwait(false);
    }

    private static async Task SkipAsync(Stream content, long offset, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        while (offset > 0)
        {
            var read = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, offset)), cancellationToken).ConfigureAwait(false);
            if (read == 0) throw new EndOfStreamException("The blob ended before the requested offset.");
            offset -= read;
        }
    }

    /// <summary>The recipe of a layer stored chunked, or null when there is none; a store whose <c>chunk_format</c>
    /// is not one this version reads is <c>UnsupportedChunkFormat</c>.</summary>
    public async Task<ChunkRecipe?> TryGetRecipeAsync(Digest layer, CancellationToken cancellationToken)
    {
        var stored = await Objects.GetBytesAsync(StoreLayout.RecipeKey(layer), Manifest.MaxBytes, cancellationToken).ConfigureAwait(false);
        if (stored is null) return null;
        var format = await GetChunkFormatAsync(cancellationToken).ConfigureAwait(false);
        if (format is { } f && f != ChunkRecipe.SupportedChunkFormat)
            throw new S3loException(ErrorIds.UnsupportedChunkFormat, S3loErrorKind.NotImplemented,
                $"The layer {layer} in {Location} is stored chunked in chunk_format {f} (s3lo.yaml), which this version of S3lo cannot read; it reads chunk_format {ChunkRecipe.SupportedChunkFormat}.",
                layer.ToString());
        return ChunkRecipe.Parse(stored.Bytes, layer);
    }

    /// <summary>The store's <c>chunk_format</c> (s3lo.yaml), read once per instance on the first recipe found and shared
    /// by concurrent callers; a read that failed or was cancelled is not kept, so the next caller reads again.</summary>
    private Task<int?> GetChunkFormatAsync(CancellationToken cancellationToken)
    {
        Task<int?> read;
        lock (_chunkFormatLock)
        {
            if (_chunkFormat is null || _chunkFormat.IsFaulted || _chunkFormat.IsCanceled)
                _chunkFormat = Task.Run(async () => (await new PolicyStore(Objects).ReadAsync(CancellationToken.None).ConfigureAwait(false)).ChunkFormat,
                    CancellationToken.None);
            read = _chunkFormat;
        }
        // The read is shared, so it is not cancelled with one caller; each caller stops waiting on its own token.
        return read.WaitAsync(cancellationToken);
    }

    public Task PutBlobAsync(Descriptor descriptor, Stream content, Action<long>? progress, CancellationToken cancellationToken)
        => Objects.PutVerifiedAsync(StoreLayout.BlobKey(descriptor.Digest), content, descriptor.Digest, descriptor.Size, ObjectClass.Blob, progress, cancellationToken);

    /// <summary>
    /// Publishes a tag: <c>oci-layout</c>, then <c>manifest.json</c> last, in one write that makes the tag appear.
    /// For an immutable image (s3lo.yaml) that write is a create-only write, so of two racing writers of the same
    /// tag exactly one wins; the other, like any write over an existing tag, fails with <c>TagImmutable</c>
    /// unless it carries the very same manifest. <paramref name="force"/> writes regardless. The signature records of a tag
    /// that existed, of another manifest, are then removed.
    /// </summary>
    public Task PublishTagAsync(string name, string tag, Manifest manifest, bool force, CancellationToken cancellationToken)
        => PublishTagAsync(name, tag, manifest, force ? null : ct => new PolicyStore(Objects).ReadAsync(ct), ObjectMetadata.None, cancellationToken);

    /// <summary>
    /// Publishes a tag as <see cref="PublishTagAsync(string, string, Manifest, bool, CancellationToken)"/> does, reading the
    /// store's policy through <paramref name="policy"/> (null: forced) only when the tag exists already, since a new tag may
    /// be written whatever the image's immutability. Both writes are create-only first: an <c>oci-layout</c> already there
    /// says the tag was published before, and a <c>manifest.json</c> created says there was no tag, so no record to remove.
    /// <paramref name="metadata"/> is stored on the <c>manifest.json</c> (what a listing shows that the manifest alone does
    /// not say: docs/format.md, "Listing metadata").
    /// </summary>
    public async Task PublishTagAsync(string name, string tag, Manifest manifest, Func<CancellationToken, Task<PolicyDocument>>? policy,
        IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        var manifestKey = StoreLayout.ManifestKey(name, tag);
        var created = await CreateAsync(StoreLayout.OciLayoutKey(name, tag), StoreLayout.OciLayoutContent, ObjectMetadata.None, cancellationToken).ConfigureAwait(false)
            ? await CreateAsync(manifestKey, manifest.Bytes, metadata, cancellationToken).ConfigureAwait(false)
            : (bool?)null;
        if (created == true) return;
        var immutable = policy is not null && (await policy(cancellationToken).ConfigureAwait(false)).Resolve(name).Immutable.Value;
        if (!immutable)
        {
            await Objects.PutBytesAsync(manifestKey, manifest.Bytes, ObjectClass.Metadata, null, metadata, cancellationToken).ConfigureAwait(false);
        }
        else if (created == false || !await CreateAsync(manifestKey, manifest.Bytes, metadata, cancellationToken).ConfigureAwait(false))
        {
            var existing = await TryGetTagAsync(name, tag, cancellationToken).ConfigureAwait(false);
            if (existing?.Manifest.Digest != manifest.Digest) throw TagImmutable(name, tag, "overwritten");
        }
        await RemoveStaleSignaturesAsync(name, tag, manifest.Digest, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A create-only write of a tag's small object; false when the key exists.</summary>
    private async Task<bool> CreateAsync(string key, ReadOnlyMemory<byte> content, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        try
        {
            await Objects.PutBytesAsync(key, content, ObjectClass.Metadata, WriteCondition.IfNotExists, metadata, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (PreconditionFailedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Deletes the tag's signature records of a manifest other than <paramref name="digest"/>, the one it now holds: after
    /// a push they sign what the tag no longer is. Records this version cannot read are left alone.
    /// </summary>
    private async Task RemoveStaleSignaturesAsync(string name, string tag, Digest digest, CancellationToken cancellationToken)
    {
        var stale = new List<string>();
        foreach (var o in await ListSignaturesAsync(name, tag, cancellationToken).ConfigureAwait(false))
        {
            var stored = await Objects.GetBytesAsync(o.Key, Signing.SignatureRecord.MaxBytes, cancellationToken).ConfigureAwait(false);
            if (stored is not null && Signing.SignatureRecord.TryParse(stored.Bytes) is { } record && record.Digest != digest.ToString()) stale.Add(o.Key);
        }
        if (stale.Count > 0) await Objects.DeleteAsync(stale, cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> IsImmutableAsync(string name, CancellationToken cancellationToken)
        => (await new PolicyStore(Objects).ReadAsync(cancellationToken).ConfigureAwait(false)).Resolve(name).Immutable.Value;

    public S3loException TagImmutable(string name, string tag, string what)
        => new(ErrorIds.TagImmutable, S3loErrorKind.ResourceExists,
            $"The image {Location}{name} is immutable (s3lo.yaml): its tag {tag} is not {what}. Use -Force to do it anyway.", $"{Location}{name}:{tag}");

    /// <summary>
    /// Deletes exactly one tag's objects: <c>manifest.json</c> first (the tag is gone from then on), then
    /// <c>oci-layout</c>, signature records and legacy files. Never a bare prefix, so <c>app:v1</c> cannot
    /// touch the tags of an image named <c>app/v1</c>. Blobs stay for garbage collection.
    /// </summary>
    public async Task<int> DeleteTagAsync(string name, string tag, CancellationToken cancellationToken)
    {
        await Objects.DeleteAsync([StoreLayout.ManifestKey(name, tag)], cancellationToken).ConfigureAwait(false);
        var keys = new List<string> { StoreLayout.OciLayoutKey(name, tag) };
        keys.AddRange(StoreLayout.LegacyTagFiles.Select(f => StoreLayout.TagPrefix(name, tag) + f));
        keys.AddRange((await ListSignaturesAsync(name, tag, cancellationToken).ConfigureAwait(false)).Select(o => o.Key));
        await Objects.DeleteAsync(keys, cancellationToken).ConfigureAwait(false);
        return keys.Count + 1;
    }

    /// <summary>The objects directly under a tag's <c>signatures/</c>, where its signature records are; never keys in deeper
    /// folders, which belong to other images (for app:v1, the tags of an image named <c>app/v1/signatures</c>).</summary>
    public async Task<IReadOnlyList<ObjectInfo>> ListSignaturesAsync(string name, string tag, CancellationToken cancellationToken)
    {
        var prefix = StoreLayout.SignaturesPrefix(name, tag);
        var signatures = new List<ObjectInfo>();
        await foreach (var o in Objects.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            if (!o.Key[prefix.Length..].Contains('/')) signatures.Add(o);
        }
        return signatures;
    }

    public S3loException BlobNotFound(Digest digest)
        => new(ErrorIds.BlobNotFound, S3loErrorKind.NotFound, $"The blob {digest} is missing from {Location}.", digest.ToString());

    public static S3loException ImageNotFound(string reference)
        => new(ErrorIds.ImageNotFound, S3loErrorKind.NotFound, $"The image '{reference}' does not exist.", reference);

    public ValueTask DisposeAsync() => Objects.DisposeAsync();
}
