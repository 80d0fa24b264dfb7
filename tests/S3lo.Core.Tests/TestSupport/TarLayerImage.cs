using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using S3lo.Core.Formats;
using S3lo.Core.Oci;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>
/// A one-layer image made in memory whose layer is a real tar built by hand: two large files of seeded random bytes
/// around a small <c>etc/config</c>, a symlink <c>bin/sh</c> and a hard link, uncompressed or gzip. The same seed gives
/// the same bytes, so an image with only <c>etc/config</c> changed shares everything else with the first.
/// </summary>
internal sealed class TarLayerImage : IImageSource
{
    public const string ConfigFile = "etc/config";
    private readonly Dictionary<Digest, byte[]> _blobs = [];

    public TarLayerImage(int seed = 1, string config = "version=1\n", bool gzip = true, int bigFileBytes = 10 << 20, byte[]? rawLayer = null)
    {
        Files = new Dictionary<string, byte[]>
        {
            ["big/first.bin"] = Random(seed, bigFileBytes),
            [ConfigFile] = Encoding.UTF8.GetBytes(config),
            ["big/second.bin"] = Random(seed + 1000, bigFileBytes),
        };
        RawLayer = rawLayer ?? BuildTar(Files);
        var layerBytes = gzip ? Gzip(RawLayer) : RawLayer;
        var layer = Add(gzip ? MediaTypes.OciLayerGzip : MediaTypes.OciLayer, layerBytes);
        var configBytes = Encoding.UTF8.GetBytes(
            $"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Digest.Compute(RawLayer)}\"]}}}}");
        Config = Add(MediaTypes.OciConfig, configBytes);
        Layer = layer;
        Root = Manifest.CreateImage(Config, [layer]);
    }

    public IReadOnlyDictionary<string, byte[]> Files { get; }
    public byte[] RawLayer { get; }
    public Descriptor Layer { get; }
    public Descriptor Config { get; }
    public string Description => "tar layer image";
    public Manifest Root { get; }

    public Task<Stream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken)
        => Task.FromResult<Stream>(new MemoryStream(_blobs[descriptor.Digest], writable: false));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Flips one byte in the middle of a blob as the source serves it: its descriptor no longer matches.</summary>
    public void DamageBlob(Digest digest) => _blobs[digest][_blobs[digest].Length / 2] ^= 0xFF;

    private Descriptor Add(string mediaType, byte[] bytes)
    {
        var descriptor = new Descriptor(mediaType, Digest.Compute(bytes), bytes.Length);
        _blobs[descriptor.Digest] = bytes;
        return descriptor;
    }

    private static byte[] BuildTar(IReadOnlyDictionary<string, byte[]> files)
    {
        using var tar = new MemoryStream();
        // Fixed times, so that the same files give the same tar.
        var time = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        PaxTarEntry Entry(TarEntryType type, string name) => new(type, name) { ModificationTime = time };
        using (var writer = new TarWriter(tar, TarEntryFormat.Ustar, leaveOpen: true))
        {
            writer.WriteEntry(new UstarTarEntry(Entry(TarEntryType.Directory, "big/")));
            writer.WriteEntry(new UstarTarEntry(Entry(TarEntryType.Directory, "etc/")));
            foreach (var (path, content) in files)
                writer.WriteEntry(new UstarTarEntry(Entry(TarEntryType.RegularFile, path)) { DataStream = new MemoryStream(content) });
            writer.WriteEntry(new UstarTarEntry(Entry(TarEntryType.SymbolicLink, "bin/sh")) { LinkName = "/bin/busybox" });
            writer.WriteEntry(new UstarTarEntry(Entry(TarEntryType.HardLink, "big/again.bin")) { LinkName = "big/first.bin" });
        }
        return tar.ToArray();
    }

    private static byte[] Random(int seed, int length)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(raw);
        return output.ToArray();
    }
}
