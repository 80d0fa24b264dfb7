using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Tests.Files;

/// <summary>A layer written entry by entry with TarWriter (PAX), as an image builder would.</summary>
internal sealed class LayerTar
{
    private readonly List<PaxTarEntry> _entries = [];

    public LayerTar File(string name, string content, UnixFileMode mode = (UnixFileMode)0b110_100_100)
        => Add(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)), Mode = mode });

    public LayerTar File(string name, byte[] content)
        => Add(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });

    public LayerTar Directory(string name) => Add(new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)0b111_101_101 });

    public LayerTar Symlink(string name, string target) => Add(new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target });

    public LayerTar Hardlink(string name, string target) => Add(new PaxTarEntry(TarEntryType.HardLink, name) { LinkName = target });

    /// <summary>The whiteout that hides <paramref name="name"/> of the layers below.</summary>
    public LayerTar Whiteout(string name)
    {
        var slash = name.LastIndexOf('/');
        return File(name[..(slash + 1)] + ".wh." + name[(slash + 1)..], "");
    }

    /// <summary>The marker that hides everything the layers below put in <paramref name="directory"/>.</summary>
    public LayerTar Opaque(string directory) => File(directory.TrimEnd('/') + "/.wh..wh..opq", "");

    private LayerTar Add(PaxTarEntry entry)
    {
        _entries.Add(entry);
        return this;
    }

    public byte[] ToArray()
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var entry in _entries)
            {
                entry.DataStream?.Seek(0, SeekOrigin.Begin);
                writer.WriteEntry(entry);
            }
        }
        return tar.ToArray();
    }
}

/// <summary>Images put into a store object by object, with layers plain, gzip, zstd or chunked with a file index.</summary>
internal static class TestImages
{
    public enum Stored
    {
        Plain,
        Gzip,
        Zstd,
    }

    public static async Task<Descriptor> PutLayerAsync(ImageStore store, byte[] tar, Stored stored)
    {
        var (mediaType, bytes) = stored switch
        {
            Stored.Gzip => (MediaTypes.OciLayerGzip, Gzip(tar)),
            Stored.Zstd => (MediaTypes.OciLayerZstd, Zstd(tar)),
            _ => (MediaTypes.OciLayer, tar),
        };
        var layer = new Descriptor(mediaType, Digest.Compute(bytes), bytes.Length);
        await store.PutBlobAsync(layer, new MemoryStream(bytes), null, default);
        return layer;
    }

    /// <summary>
    /// Stores a layer as a chunking client does (docs/format.md, "Chunking"): the raw tar cut every <paramref name="chunkSize"/> bytes,
    /// each chunk one zstd frame, a recipe and a file index (regular files with the offset of their data, links with their
    /// target), and no blob. Returns the layer and its chunks in order.
    /// </summary>
    public static async Task<(Descriptor Layer, IReadOnlyList<Digest> Chunks)> PutChunkedLayerAsync(ImageStore store, byte[] tar, int chunkSize)
    {
        var frames = new List<byte[]>();
        var chunks = new List<Digest>();
        var chunkJson = new List<string>();
        for (var offset = 0; offset < tar.Length; offset += chunkSize)
        {
            var chunk = tar[offset..Math.Min(offset + chunkSize, tar.Length)];
            var frame = Zstd(chunk);
            var digest = Digest.Compute(chunk);
            await store.Objects.PutBytesAsync(StoreLayout.ChunkKey(digest), frame, ObjectClass.Blob, default);
            frames.Add(frame);
            chunks.Add(digest);
            chunkJson.Add($"{{\"digest\":\"{digest.Hex}\",\"size\":{chunk.Length},\"compressedSize\":{frame.Length}}}");
        }
        var compressed = frames.SelectMany(f => f).ToArray();
        var layer = new Descriptor(MediaTypes.OciLayerZstd, Digest.Compute(compressed), compressed.Length);
        var rawDigest = Digest.Compute(tar);
        var recipe = $"{{\"layer\":\"{rawDigest.Hex}\",\"size\":{tar.Length},\"compressedDigest\":\"{layer.Digest.Hex}\","
                     + $"\"compressedSize\":{compressed.Length},\"chunks\":[{string.Join(",", chunkJson)}]}}";
        await store.Objects.PutBytesAsync(StoreLayout.RecipeKey(layer.Digest), Encoding.UTF8.GetBytes(recipe), ObjectClass.Metadata, default);

        var files = new List<string>();
        using (var reader = new TarReader(new MemoryStream(tar)))
        {
            while (reader.GetNextEntry() is { } entry)
            {
                var path = System.Text.Json.JsonSerializer.Serialize(entry.Name.TrimStart('.', '/'));
                if (entry.EntryType is TarEntryType.RegularFile)
                    files.Add($"{{\"path\":{path},\"offset\":{entry.DataOffset},\"size\":{entry.Length}}}");
                else if (entry.EntryType is TarEntryType.SymbolicLink)
                    files.Add($"{{\"path\":{path},\"link\":{System.Text.Json.JsonSerializer.Serialize(entry.LinkName)}}}");
            }
        }
        var index = $"{{\"layer\":\"{rawDigest.Hex}\",\"files\":[{string.Join(",", files)}]}}";
        await store.Objects.PutBytesAsync(StoreLayout.IndexesPrefix + layer.Digest.Hex, Zstd(Encoding.UTF8.GetBytes(index)), ObjectClass.Metadata, default);
        return (layer, chunks);
    }

    /// <summary>Publishes name:tag with the given layers and a config naming them.</summary>
    public static async Task<ImageReference> PublishAsync(ImageStore store, string name, string tag, IReadOnlyList<Descriptor> layers)
    {
        var configBytes = Encoding.UTF8.GetBytes(
            $"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[]}},\"nonce\":\"{Guid.NewGuid()}\"}}");
        var config = new Descriptor(MediaTypes.OciConfig, Digest.Compute(configBytes), configBytes.Length);
        await store.PutBlobAsync(config, new MemoryStream(configBytes), null, default);
        await store.PublishTagAsync(name, tag, Manifest.CreateImage(config, layers), force: false, default);
        return ImageReference.Create(store.Location, name, tag, null);
    }

    public static byte[] Gzip(byte[] raw)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(raw);
        return output.ToArray();
    }

    public static byte[] Zstd(byte[] raw)
    {
        using var compressor = new ZstdSharp.Compressor(3);
        return compressor.Wrap(raw).ToArray();
    }

    public static byte[] Unzstd(byte[] frame)
    {
        using var decompressor = new ZstdSharp.Decompressor();
        return decompressor.Unwrap(frame).ToArray();
    }
}
