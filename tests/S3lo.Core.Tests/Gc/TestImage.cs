using System.Text;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Tests.Gc;

/// <summary>An image made in memory: random configs and layers, one platform or an index of two.</summary>
internal sealed class TestImage : IImageSource
{
    private readonly Dictionary<Digest, byte[]> _blobs = [];

    private TestImage() => Root = null!;

    public string Description => "test image";
    public Manifest Root { get; private set; }
    public IReadOnlyDictionary<Digest, byte[]> Blobs => _blobs;

    /// <summary>Opening this blob waits first, like a slow source, to hold a push between its dedup check and its publish.</summary>
    public Digest? SlowBlob { get; set; }
    public TimeSpan SlowDelay { get; set; }

    public static TestImage Single(string architecture = "amd64", string? variant = null)
    {
        var image = new TestImage();
        image.Root = image.AddImageManifest(architecture, variant);
        return image;
    }

    public static TestImage Index()
    {
        var image = new TestImage();
        var entries = new StringBuilder();
        foreach (var arch in new[] { "amd64", "arm64" })
        {
            var child = image.AddImageManifest(arch);
            image._blobs[child.Digest] = child.Bytes;
            if (entries.Length > 0) entries.Append(',');
            entries.Append($"{{\"mediaType\":\"{MediaTypes.OciManifest}\",\"digest\":\"{child.Digest}\",\"size\":{child.Bytes.Length}," +
                           $"\"platform\":{{\"os\":\"linux\",\"architecture\":\"{arch}\"}}}}");
        }
        image.Root = Manifest.Parse(Encoding.UTF8.GetBytes(
            $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciIndex}\",\"manifests\":[{entries}]}}"));
        return image;
    }

    /// <summary>The child manifests of an index, or the root itself.</summary>
    public IEnumerable<Manifest> ImageManifests
        => Root.IsIndex ? Root.Manifests.Select(d => Manifest.Parse(_blobs[d.Digest], d.MediaType)) : [Root];

    private Manifest AddImageManifest(string arch, string? variant = null)
    {
        var variantField = variant is null ? "" : $"\"variant\":\"{variant}\",";
        var config = Add(MediaTypes.OciConfig,
            Encoding.UTF8.GetBytes($"{{\"os\":\"linux\",\"architecture\":\"{arch}\",{variantField}\"nonce\":\"{Guid.NewGuid()}\"}}"));
        var layers = Enumerable.Range(0, 2).Select(_ => Add("application/vnd.oci.image.layer.v1.tar+gzip", RandomBytes(3000))).ToList();
        return Manifest.CreateImage(config, layers);
    }

    private Descriptor Add(string mediaType, byte[] bytes)
    {
        var descriptor = new Descriptor(mediaType, Digest.Compute(bytes), bytes.Length);
        _blobs[descriptor.Digest] = bytes;
        return descriptor;
    }

    public static byte[] RandomBytes(int length)
    {
        var data = new byte[length];
        Random.Shared.NextBytes(data);
        return data;
    }

    /// <summary>Writes blobs straight into the store, as an earlier push would have.</summary>
    public async Task StoreBlobsAsync(ImageStore store, Func<Digest, bool>? which = null)
    {
        foreach (var (digest, bytes) in _blobs.Where(b => which?.Invoke(b.Key) ?? true))
            await store.PutBlobAsync(new Descriptor("", digest, bytes.Length), new MemoryStream(bytes), null, default);
    }

    public async Task PublishAsync(ImageStore store, string name, string tag)
    {
        await StoreBlobsAsync(store);
        await store.PublishTagAsync(name, tag, Root, force: false, default);
    }

    public async Task<Stream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken)
    {
        if (descriptor.Digest == SlowBlob) await Task.Delay(SlowDelay, cancellationToken);
        return new MemoryStream(_blobs[descriptor.Digest], writable: false);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
