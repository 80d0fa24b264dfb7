using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Server;
using S3lo.Core.Storage;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Server;

/// <summary>
/// The images the server tests serve, written into a store: <c>app:v1</c> and <c>app:v2</c> pushed from
/// <see cref="ImageFixture"/>'s layout by the engine; <c>multi:v1</c>, an OCI index of linux/amd64 and linux/arm64 images;
/// <c>chunked:v1</c>, whose one zstd layer is stored only as chunks and a recipe (docs/format.md, "Chunking");
/// <c>other:v1</c>, whose layer no other repository references.
/// </summary>
internal sealed class ServedImages
{
    public Manifest App { get; private set; } = null!;
    public Manifest Multi { get; private set; } = null!;
    public Manifest Chunked { get; private set; } = null!;
    public Manifest Other { get; private set; } = null!;
    public byte[] ChunkedLayer { get; private set; } = [];

    public static async Task<ServedImages> WriteAsync(ImageStore store, ImageFixture images)
    {
        var served = new ServedImages();
        foreach (var tag in (string[])["v1", "v2"])
        {
            await using var source = await ImageSources.OpenAsync(images.Layout, tag, default);
            await Transfers.PushAsync(source, store, "app", tag);
        }
        served.App = (await store.GetTagAsync("app", "v1", default)).Manifest;

        var amd64 = await PutImageAsync(store, new Platform("linux", "amd64"), "amd64\n");
        var arm64 = await PutImageAsync(store, new Platform("linux", "arm64"), "arm64\n");
        var index = Encoding.UTF8.GetBytes(
            $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[{{Entry(amd64, "amd64")}},{{Entry(arm64, "arm64")}}]}""");
        await store.PublishTagAsync("multi", "v1", Manifest.Parse(index), force: false, default);
        served.Multi = Manifest.Parse(index);

        served.Other = await PutImageAsync(store, new Platform("linux", "amd64"), "other " + Guid.NewGuid() + "\n", "other", "v1");
        (served.Chunked, served.ChunkedLayer) = await PutChunkedImageAsync(store);
        return served;
    }

    private static string Entry(Manifest m, string arch)
        => $$$"""{"mediaType":"{{{m.MediaType}}}","digest":"{{{m.Digest}}}","size":{{{m.Bytes.Length}}},"platform":{"os":"linux","architecture":"{{{arch}}}"}}""";

    /// <summary>A one-layer image (a gzip tar holding /arch); stored as a blob, or tagged when a name is given.</summary>
    private static async Task<Manifest> PutImageAsync(ImageStore store, Platform platform, string content, string? name = null, string? tag = null)
    {
        var raw = Tar(("arch", Encoding.UTF8.GetBytes(content)));
        using var gz = new MemoryStream();
        await using (var zip = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true)) zip.Write(raw);
        var layerBytes = gz.ToArray();
        var layer = new Descriptor(MediaTypes.OciLayerGzip, Digest.Compute(layerBytes), layerBytes.Length);
        await store.PutBlobAsync(layer, new MemoryStream(layerBytes), null, default);
        var manifest = await PutManifestAsync(store, platform, raw, layer);
        if (name is not null) await store.PublishTagAsync(name, tag!, manifest, force: false, default);
        else
            await store.PutBlobAsync(new Descriptor(manifest.MediaType, manifest.Digest, manifest.Bytes.Length), new MemoryStream(manifest.Bytes), null, default);
        return manifest;
    }

    /// <summary>An image <paramref name="name"/>:<paramref name="tag"/> whose one layer is <paramref name="layerBytes"/>, stored as
    /// one blob (the server never looks inside a layer, so any bytes do); returns the layer's descriptor.</summary>
    public static async Task<Descriptor> PutLayerImageAsync(ImageStore store, string name, string tag, byte[] layerBytes)
    {
        var layer = new Descriptor(MediaTypes.OciLayerGzip, Digest.Compute(layerBytes), layerBytes.Length);
        await store.PutBlobAsync(layer, new MemoryStream(layerBytes), null, default);
        await store.PublishTagAsync(name, tag, await PutManifestAsync(store, new Platform("linux", "amd64"), layerBytes, layer), force: false, default);
        return layer;
    }

    private static async Task<Manifest> PutManifestAsync(ImageStore store, Platform platform, byte[] rawLayer, Descriptor layer)
    {
        var configBytes = Encoding.UTF8.GetBytes(
            $$$"""{"architecture":"{{{platform.Architecture}}}","os":"{{{platform.Os}}}","rootfs":{"type":"layers","diff_ids":["{{{Digest.Compute(rawLayer)}}}"]},"config":{}}""");
        var config = new Descriptor(MediaTypes.OciConfig, Digest.Compute(configBytes), configBytes.Length);
        await store.PutBlobAsync(config, new MemoryStream(configBytes), null, default);
        return Manifest.CreateImage(config, [layer]);
    }

    /// <summary>chunked:v1: a layer (a tar of a 2.5 MiB random file) stored as three zstd frames and a recipe, no blob.</summary>
    private static async Task<(Manifest, byte[])> PutChunkedImageAsync(ImageStore store)
    {
        var raw = Tar(("payload.bin", RandomNumberGenerator.GetBytes((2 << 20) + (1 << 19))));
        int[] cuts = [0, 1 << 20, (2 << 20) + 777, raw.Length];
        var frames = new List<byte[]>();
        var chunks = new List<string>();
        for (var i = 0; i + 1 < cuts.Length; i++)
        {
            var chunk = raw[cuts[i]..cuts[i + 1]];
            using var compressor = new ZstdSharp.Compressor(3);
            var frame = compressor.Wrap(chunk).ToArray();
            var digest = Digest.Compute(chunk);
            await store.Objects.PutBytesAsync(StoreLayout.ChunkKey(digest), frame, ObjectClass.Blob, default);
            frames.Add(frame);
            chunks.Add($"{{\"digest\":\"{digest.Hex}\",\"size\":{chunk.Length},\"compressedSize\":{frame.Length}}}");
        }
        var compressed = frames.SelectMany(f => f).ToArray();
        var layer = new Descriptor(MediaTypes.OciLayerZstd, Digest.Compute(compressed), compressed.Length);
        var recipe = $"{{\"layer\":\"{Digest.Compute(raw).Hex}\",\"size\":{raw.Length},\"compressedDigest\":\"{layer.Digest.Hex}\","
                     + $"\"compressedSize\":{compressed.Length},\"chunks\":[{string.Join(",", chunks)}]}}";
        await store.Objects.PutBytesAsync(StoreLayout.RecipeKey(layer.Digest), Encoding.UTF8.GetBytes(recipe), ObjectClass.Metadata, default);
        var manifest = await PutManifestAsync(store, new Platform("linux", "amd64"), raw, layer);
        await store.PublishTagAsync("chunked", "v1", manifest, force: false, default);
        return (manifest, compressed);
    }

    private static byte[] Tar(params (string Name, byte[] Content)[] files)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, content) in files)
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
        }
        return tar.ToArray();
    }
}

/// <summary>
/// A test class's store of one kind holding <see cref="ServedImages"/>, served by a <see cref="RunningServer"/> with
/// <see cref="ServerOptions"/>; all three made before each test and disposed after it.
/// </summary>
public abstract class ServedStoreTests(ImageFixture images) : IAsyncLifetime
{
    private protected TempDir Dir { get; } = new();
    private protected ImageStore Store { get; private set; } = null!;
    private protected ServedImages Served { get; private set; } = null!;
    private protected RunningServer Server { get; private set; } = null!;

    protected abstract Task<ImageStore> CreateStoreAsync();

    private protected virtual RegistryServerOptions? ServerOptions => null;

    public async Task InitializeAsync()
    {
        Store = await CreateStoreAsync();
        Served = await ServedImages.WriteAsync(Store, images);
        Server = new RunningServer(Store, ServerOptions);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        await Store.DisposeAsync();
        Dir.Dispose();
    }
}

/// <summary>A <see cref="StoreRegistryServer"/> on 127.0.0.1 and a free port, serving until disposed; its log kept for failures.</summary>
internal sealed class RunningServer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly StoreRegistryServer _server;
    private readonly Task _run;

    public RunningServer(ImageStore store, RegistryServerOptions? options = null)
    {
        _server = new StoreRegistryServer(store, (options ?? new RegistryServerOptions()) with { Port = 0, Log = line => { lock (Log) Log.Add(line); } });
        Endpoint = _server.Start();
        _run = _server.RunAsync(_stop.Token);
    }

    public List<string> Log { get; } = [];
    public ServerEndpoint Endpoint { get; }
    /// <summary>host:port, as image references name the registry.</summary>
    public string Host => $"127.0.0.1:{Endpoint.Port}";

    /// <summary>Stops as Ctrl+C does: requests in flight finish, then <see cref="StoreRegistryServer.RunAsync"/> returns.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(TimeSpan.FromSeconds(40));
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _server.DisposeAsync();
        _stop.Dispose();
    }
}
