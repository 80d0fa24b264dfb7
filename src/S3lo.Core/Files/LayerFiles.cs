using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using S3lo.Core.Formats;
using S3lo.Core.IO;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Files;

/// <summary>One entry of one layer, as its tar or its file index lists it.</summary>
/// <param name="Ordinal">The entry's position among the layer's tar entries (for a scanned layer), or -1.</param>
/// <param name="DataOffset">Where the file's data starts in the raw tar (from a file index), or -1.</param>
internal sealed record LayerEntry(string Path, ImageFileType Type, long Size, string? LinkTarget, UnixFileMode? Mode, DateTimeOffset? Modified,
    long Ordinal, long DataOffset);

/// <summary>
/// The entries of one layer and the content of its files. A chunked layer with a file index (docs/format.md, "File indexes")
/// is listed from the index alone, and a file is read from just the chunks that overlap it, each checked against its digest.
/// Any other layer is streamed, decompressed by its media type and scanned, always to its end, so that its digest is checked
/// before anything read from it is handed on.
/// </summary>
internal static class LayerFiles
{
    /// <summary>The entries of a layer; for one listed from its file index, the raw tar digest the index names.</summary>
    public sealed record Listing(IReadOnlyList<LayerEntry> Entries, Digest? IndexedTar);

    // A raw chunk is at most 16 MiB; zstd adds a few bytes per 128 KiB block when it cannot compress.
    private const long MaxStoredChunkBytes = 17L << 20;
    private const long MaxIndexBytes = 64L << 20;

    public static async Task<Listing> ListAsync(ImageStore store, Descriptor layer, CancellationToken cancellationToken)
    {
        var index = await store.Objects.GetBytesAsync(StoreLayout.IndexesPrefix + layer.Digest.Hex, MaxIndexBytes, cancellationToken).ConfigureAwait(false);
        if (index is not null)
        {
            var (tar, indexed) = ParseIndex(index.Bytes, layer.Digest);
            return new Listing(indexed, tar);
        }
        var entries = new List<LayerEntry>();
        await ScanAsync(store, layer, (entry, ordinal, _) =>
        {
            if (ToLayerEntry(entry, ordinal, layer.Digest) is { } e) entries.Add(e);
            return ValueTask.CompletedTask;
        }, cancellationToken).ConfigureAwait(false);
        return new Listing(entries, null);
    }

    /// <summary>Writes the data of a regular file of <paramref name="layer"/> to <paramref name="destination"/>; returns only
    /// once every byte read has been checked against its digest.</summary>
    public static async Task CopyAsync(ImageStore store, Descriptor layer, Listing listing, LayerEntry file, Stream destination,
        CancellationToken cancellationToken)
    {
        if (file.DataOffset >= 0)
        {
            var recipe = await store.TryGetRecipeAsync(layer.Digest, cancellationToken).ConfigureAwait(false);
            if (recipe is not null)
            {
                if (listing.IndexedTar != recipe.Layer)
                    throw new S3loException(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
                        $"The file index of the layer {layer.Digest} describes the tar {listing.IndexedTar}, its recipe the tar {recipe.Layer}.", layer.Digest.ToString());
                await CopyChunkRangeAsync(store, recipe, file, destination, cancellationToken).ConfigureAwait(false);
                return;
            }
            // An index beside a whole blob: its offsets say nothing about where the blob's compressed bytes are, so
            // the layer is scanned like any other, and the last entry of that name is the file.
            var entries = new List<LayerEntry>();
            await ScanAsync(store, layer, (entry, ordinal, _) =>
            {
                if (ToLayerEntry(entry, ordinal, layer.Digest) is { } e && e.Path == file.Path) entries.Add(e);
                return ValueTask.CompletedTask;
            }, cancellationToken).ConfigureAwait(false);
            file = entries.LastOrDefault(e => e.Type == ImageFileType.File)
                   ?? throw new S3loException(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
                       $"The file index of the layer {layer.Digest} lists {file.Path}, which the layer does not hold.", file.Path);
        }
        var found = false;
        await ScanAsync(store, layer, async (entry, ordinal, ct) =>
        {
            if (ordinal != file.Ordinal || entry.DataStream is null) return;
            await entry.DataStream.CopyToAsync(destination, ct).ConfigureAwait(false);
            found = true;
        }, cancellationToken).ConfigureAwait(false);
        if (!found)
            throw new S3loException(ErrorIds.InvalidArchive, S3loErrorKind.InvalidData,
                $"The layer {layer.Digest} no longer holds {file.Path} where it was listed.", file.Path);
    }

    /// <summary>Streams a layer through <paramref name="visit"/>, entry by entry, then reads the rest of the blob so that its
    /// digest is checked: the scan returns only for a layer whose bytes are its digest's.</summary>
    private static async Task ScanAsync(ImageStore store, Descriptor layer, Func<TarEntry, long, CancellationToken, ValueTask> visit,
        CancellationToken cancellationToken)
    {
        var compression = CompressionOf(layer);
        await using var blob = await store.OpenBlobAsync(layer, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var tar = compression switch
            {
                LayerCompression.Gzip => new GZipStream(blob, CompressionMode.Decompress, leaveOpen: true),
                LayerCompression.Zstd => new ZstdSharp.DecompressionStream(blob, leaveOpen: true),
                _ => (Stream)new NonClosingStream(blob),
            };
            await using (var reader = new TarReader(tar, leaveOpen: true))
            {
                long ordinal = 0;
                while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
                    await visit(entry, ordinal++, cancellationToken).ConfigureAwait(false);
            }
            // Past the end-of-archive blocks: the padding a tar may carry, and the compressed stream's own end.
            await tar.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (TarReading.IsMalformed(e) || e is ZstdSharp.ZstdException)
        {
            // Corrupt bytes are the likelier cause, and the truer report: the digest is checked before the archive is blamed.
            await blob.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
            throw new S3loException(ErrorIds.InvalidArchive, S3loErrorKind.InvalidData,
                $"The layer {layer.Digest} in {store.Location} is not a {Describe(compression)} tar: {e.Message}", layer.Digest.ToString(), e);
        }
        await blob.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
    }

    private static LayerEntry? ToLayerEntry(TarEntry entry, long ordinal, Digest layer)
    {
        var type = entry.EntryType switch
        {
            TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile => ImageFileType.File,
            TarEntryType.Directory => ImageFileType.Directory,
            TarEntryType.SymbolicLink => ImageFileType.Symlink,
            TarEntryType.HardLink => ImageFileType.Hardlink,
            TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo => ImageFileType.Other,
            // Metadata entries (PAX, GNU long names) are folded into the next entry by TarReader; anything else has no place in a filesystem.
            _ => (ImageFileType?)null,
        };
        if (type is not { } t || ImagePath.FromEntryName(entry.Name, layer.ToString()) is not { } path) return null;
        var link = t switch
        {
            ImageFileType.Symlink => entry.LinkName,
            ImageFileType.Hardlink => ImagePath.FromEntryName(entry.LinkName, layer.ToString()),
            _ => null,
        };
        return new LayerEntry(path, t, t == ImageFileType.File ? entry.Length : 0, link, entry.Mode, entry.ModificationTime, ordinal, -1);
    }

    /// <summary>The most a file index may uncompress to: about a hundred bytes per file, for hundreds of thousands of files.</summary>
    internal const int MaxIndexJsonBytes = 64 << 20;

    /// <summary>Uncompresses a zstd stream, refusing one that grows past <paramref name="limit"/> bytes (a decompression bomb)
    /// before it takes the memory: the frame's declared size is not trusted, the bytes are counted as they come.</summary>
    private static byte[] Unzstd(byte[] compressed, int limit, Digest layer)
    {
        using var input = new ZstdSharp.DecompressionStream(new MemoryStream(compressed, writable: false));
        var output = new MemoryStream();
        var buffer = new byte[81920];
        int n;
        while ((n = input.Read(buffer)) > 0)
        {
            if (output.Length + n > limit)
                throw new S3loException(ErrorIds.ObjectTooLarge, S3loErrorKind.InvalidData,
                    $"The file index of the layer {layer} uncompresses to more than {limit >> 20} MiB; S3lo does not read it.", layer.ToString());
            output.Write(buffer, 0, n);
        }
        return output.ToArray();
    }

    /// <summary>A file index: the layer's raw tar digest, and its entries.</summary>
    internal static (Digest Layer, IReadOnlyList<LayerEntry> Entries) ParseIndex(byte[] compressed, Digest layer)
    {
        try
        {
            using var document = JsonDocument.Parse(Unzstd(compressed, MaxIndexJsonBytes, layer));
            var root = document.RootElement;
            var rawLayer = Digest.FromHex(root.GetProperty("layer").GetString() ?? "");
            var entries = new List<LayerEntry>();
            foreach (var file in root.GetProperty("files").EnumerateArray())
            {
                if (ImagePath.FromEntryName(file.GetProperty("path").GetString() ?? "", layer.ToString()) is not { } path) continue;
                if (file.TryGetProperty("link", out var link))
                {
                    // The format does not say which kind of link an entry is; a "type" field, when a writer adds one, does.
                    var hard = file.TryGetProperty("type", out var kind) && kind.GetString() is "hardlink" or "link";
                    var target = link.GetString() ?? "";
                    entries.Add(hard
                        ? new LayerEntry(path, ImageFileType.Hardlink, 0, ImagePath.FromEntryName(target, layer.ToString()), null, null, -1, -1)
                        : new LayerEntry(path, ImageFileType.Symlink, 0, target, null, null, -1, -1));
                    continue;
                }
                var offset = file.GetProperty("offset").GetInt64();
                var size = file.GetProperty("size").GetInt64();
                if (offset < 0 || size < 0) throw new FormatException($"{path} has a negative offset or size");
                entries.Add(new LayerEntry(path, ImageFileType.File, size, null, null, null, -1, offset));
            }
            return (rawLayer, entries);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or EndOfStreamException or ZstdSharp.ZstdException
                                      || (e is S3loException s && s.ErrorId == ErrorIds.InvalidDigest))
        {
            throw new S3loException(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
                $"The file index of the layer {layer} ({StoreLayout.IndexesPrefix}{layer.Hex}) cannot be read: {e.Message}", layer.ToString(), e);
        }
    }

    /// <summary>Copies [offset, offset + size) of the raw tar from the chunks that overlap it, and from no others.</summary>
    private static async Task CopyChunkRangeAsync(ImageStore store, ChunkRecipe recipe, LayerEntry file, Stream destination, CancellationToken cancellationToken)
    {
        var start = file.DataOffset;
        var end = file.DataOffset + file.Size;
        if (end > recipe.Size)
            throw new S3loException(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
                $"The file index of the layer {recipe.CompressedDigest} places {file.Path} at bytes {start}-{end}, beyond the layer's {recipe.Size}.", file.Path);
        long chunkStart = 0;
        foreach (var chunk in recipe.Chunks)
        {
            var chunkEnd = chunkStart + chunk.Size;
            if (chunkStart >= end) break;
            if (chunkEnd > start)
            {
                var raw = await FetchChunkAsync(store, recipe, chunk, cancellationToken).ConfigureAwait(false);
                var from = (int)Math.Max(start - chunkStart, 0);
                var to = (int)Math.Min(end - chunkStart, chunk.Size);
                await destination.WriteAsync(raw.AsMemory(from, to - from), cancellationToken).ConfigureAwait(false);
            }
            chunkStart = chunkEnd;
        }
    }

    private static async Task<byte[]> FetchChunkAsync(ImageStore store, ChunkRecipe recipe, ChunkInfo chunk, CancellationToken cancellationToken)
    {
        var key = StoreLayout.ChunkKey(chunk.Digest);
        var what = $"chunk {chunk.Digest} of the layer {recipe.CompressedDigest} in {store.Location}";
        var stored = await store.Objects.GetBytesAsync(key, MaxStoredChunkBytes, cancellationToken).ConfigureAwait(false)
                     ?? throw new S3loException(ErrorIds.BlobNotFound, S3loErrorKind.NotFound, $"The {what} is missing ({key}).", chunk.Digest.ToString());
        var raw = new byte[chunk.Size];
        try
        {
            await using var content = new VerifyingReadStream(new ZstdSharp.DecompressionStream(new MemoryStream(stored.Bytes, writable: false)),
                chunk.Digest, chunk.Size, what);
            await content.ReadExactlyAsync(raw, cancellationToken).ConfigureAwait(false);
            await content.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ZstdSharp.ZstdException or EndOfStreamException || (e is S3loException s && s.ErrorId == ErrorIds.SizeMismatch))
        {
            throw new S3loException(ErrorIds.DigestMismatch, S3loErrorKind.InvalidData, $"The {what} is not its digest's content: {e.Message}",
                chunk.Digest.ToString(), e);
        }
        return raw;
    }

    private static LayerCompression CompressionOf(Descriptor layer)
    {
        var type = layer.MediaType;
        if (type.EndsWith("+gzip", StringComparison.Ordinal) || type.EndsWith(".tar.gzip", StringComparison.Ordinal)) return LayerCompression.Gzip;
        if (type.EndsWith("+zstd", StringComparison.Ordinal) || type.EndsWith(".tar.zstd", StringComparison.Ordinal)) return LayerCompression.Zstd;
        if (type.EndsWith(".tar", StringComparison.Ordinal)) return LayerCompression.None;
        throw new S3loException(ErrorIds.UnsupportedMediaType, S3loErrorKind.NotImplemented,
            $"The layer {layer.Digest} has the media type '{type}', which is not a tar layer S3lo can read files from.", layer.Digest.ToString());
    }

    private static string Describe(LayerCompression compression) => compression switch
    {
        LayerCompression.Gzip => "gzip-compressed",
        LayerCompression.Zstd => "zstd-compressed",
        _ => "plain",
    };

    /// <summary>The uncompressed blob handed to the tar reader without giving it the blob to close.</summary>
    private sealed class NonClosingStream(Stream inner) : ReadOnlyStream
    {
        public override long Length => throw new NotSupportedException();

        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
    }
}
