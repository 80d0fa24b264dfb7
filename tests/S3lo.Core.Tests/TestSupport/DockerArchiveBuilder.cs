using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using S3lo.Core.Oci;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>Builds classic docker-save archives by hand (config file, <c>&lt;id&gt;/layer.tar</c>, manifest.json), including
/// broken ones no real tool would write.</summary>
public sealed class DockerArchiveBuilder
{
    private readonly List<(string Name, byte[] Data)> _files = [];
    private readonly List<(string Name, TarEntryType Type, string Link)> _links = [];
    private readonly JsonArray _manifest = [];

    public TarEntryFormat Format { get; init; } = TarEntryFormat.Pax;

    /// <summary>Adds an image whose single layer holds <paramref name="fileName"/>; returns the layer file as stored.</summary>
    public byte[] AddImage(string[] repoTags, string fileName, string fileContent, bool gzipLayer = false, string? layerPath = null)
    {
        var layerTar = LayerTar(fileName, fileContent);
        var stored = gzipLayer ? Gzip(layerTar) : layerTar;
        var config = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = new JsonObject(),
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(Digest.Compute(layerTar).ToString()) },
        }.ToJsonString());
        var configName = Digest.Compute(config).Hex + ".json";
        layerPath ??= Digest.Compute(layerTar).Hex + "/layer.tar";
        AddFile(configName, config);
        AddFile(layerPath, stored);
        _manifest.Add(new JsonObject
        {
            ["Config"] = configName,
            ["RepoTags"] = new JsonArray(repoTags.Select(t => (JsonNode)t).ToArray()),
            ["Layers"] = new JsonArray(layerPath),
        });
        return stored;
    }

    public DockerArchiveBuilder AddFile(string name, byte[] data)
    {
        _files.Add((name, data));
        return this;
    }

    public DockerArchiveBuilder AddLink(string name, TarEntryType type, string target)
    {
        _links.Add((name, type, target));
        return this;
    }

    public byte[] ManifestJson => Encoding.UTF8.GetBytes(_manifest.ToJsonString());

    public void Write(string path, bool includeManifest = true)
    {
        using var file = File.Create(path);
        using var tar = new TarWriter(file, Format);
        foreach (var (name, data) in _files) tar.WriteEntry(Entry(TarEntryType.RegularFile, name, data));
        foreach (var (name, type, link) in _links)
        {
            var entry = Entry(type, name, null);
            entry.LinkName = link;
            tar.WriteEntry(entry);
        }
        if (includeManifest) tar.WriteEntry(Entry(TarEntryType.RegularFile, "manifest.json", ManifestJson));
    }

    private TarEntry Entry(TarEntryType type, string name, byte[]? data)
    {
        TarEntry entry = Format switch
        {
            TarEntryFormat.Gnu => new GnuTarEntry(type, name),
            TarEntryFormat.Ustar => new UstarTarEntry(type, name),
            _ => new PaxTarEntry(type, name),
        };
        if (data is not null) entry.DataStream = new MemoryStream(data);
        return entry;
    }

    public static byte[] LayerTar(string fileName, string content)
    {
        using var buffer = new MemoryStream();
        using (var tar = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
            tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, fileName)
            {
                DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
                ModificationTime = DateTimeOffset.UnixEpoch,
            });
        return buffer.ToArray();
    }

    public static byte[] Gzip(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(data);
        return buffer.ToArray();
    }
}
