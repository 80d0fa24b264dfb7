using System.Text.Json;
using S3lo.Core.Oci;

namespace S3lo.Core.Formats;

/// <summary>
/// Reads a classic <c>docker save</c> archive (manifest.json listing a config file and layer tars). Such an archive
/// has no OCI manifest, so S3lo writes one, keeping the config bytes and the layers exactly as stored.
/// </summary>
internal static class DockerArchiveReader
{
    public const string ManifestFile = "manifest.json";

    /// <summary>Configs carry the build history; generous, but bounded so a corrupt entry cannot exhaust memory.</summary>
    private const long MaxConfigSize = 64 * 1024 * 1024;

    public static async Task<IImageSource> OpenAsync(IFileSet files, string? sourceTag, CancellationToken cancellationToken)
    {
        var manifestBytes = await files.TryReadSmallFileAsync(ManifestFile, Manifest.MaxBytes, cancellationToken).ConfigureAwait(false);
        var images = ParseManifestJson(manifestBytes!, files.Description);
        var candidates = images.Select(i => new ImageCandidate<DockerImage>(i, i.Config, i.RepoTags)).ToList();
        var image = ImageChooser.Choose(candidates, sourceTag, files.Description);

        var configBytes = await files.TryReadSmallFileAsync(image.Config, MaxConfigSize, cancellationToken).ConfigureAwait(false)
            ?? throw Invalid(files.Description, $"its config '{image.Config}' is missing");
        var config = new Descriptor(MediaTypes.OciConfig, Digest.Compute(configBytes), configBytes.Length);
        var diffIds = ReadDiffIds(configBytes, files.Description);
        if (diffIds.Count != image.Layers.Count)
            throw Invalid(files.Description, $"the config lists {diffIds.Count} layers (rootfs.diff_ids) but manifest.json lists {image.Layers.Count}");

        var blobPaths = new Dictionary<Digest, string> { [config.Digest] = image.Config };
        var layers = new List<Descriptor>();
        for (var i = 0; i < image.Layers.Count; i++)
        {
            var layer = await DescribeLayerAsync(files, image.Layers[i], diffIds[i], cancellationToken).ConfigureAwait(false);
            blobPaths.TryAdd(layer.Digest, image.Layers[i]);
            layers.Add(layer);
        }
        var root = Manifest.CreateImage(config, layers);
        return new FileSetImageSource(files, root, d => blobPaths.GetValueOrDefault(d.Digest));
    }

    /// <summary>An uncompressed layer's digest is its diff_id, which the config already states, so only
    /// compressed layers (which newer tools may put in a save) cost a hashing pass here.</summary>
    private static async Task<Descriptor> DescribeLayerAsync(IFileSet files, string path, Digest diffId, CancellationToken cancellationToken)
    {
        var length = files.TryGetLength(path);
        var stream = files.TryOpenRead(path);
        if (length is null || stream is null)
            throw new S3loException(ErrorIds.BlobNotFound, S3loErrorKind.NotFound,
                $"The layer '{path}' that manifest.json lists is missing from {files.Description}.", path);
        await using (stream.ConfigureAwait(false))
        {
            var magic = new byte[4];
            var n = await stream.ReadAtLeastAsync(magic, magic.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            var compression = LayerCompressions.Detect(magic.AsSpan(0, n));
            if (compression is LayerCompression.None) return new Descriptor(MediaTypes.OciLayer, diffId, length.Value);

            // Both file sets open seekable streams (a file, or a byte range of the archive): back to the start, so
            // the hash covers the magic too; only those few bytes are read twice.
            stream.Position = 0;
            var digest = await Digest.ComputeAsync(stream, cancellationToken).ConfigureAwait(false);
            return new Descriptor(compression.OciLayerMediaType(), digest, length.Value);
        }
    }

    private sealed record DockerImage(string Config, IReadOnlyList<string> RepoTags, IReadOnlyList<string> Layers);

    private static List<DockerImage> ParseManifestJson(byte[] bytes, string archive)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
            if (document.RootElement.ValueKind != JsonValueKind.Array) throw Invalid(archive, "manifest.json is not a JSON array");
            return document.RootElement.EnumerateArray().Select(e =>
            {
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("Config", out var config) || config.ValueKind != JsonValueKind.String)
                    throw Invalid(archive, "a manifest.json entry has no Config");
                return new DockerImage(
                    ArchivePath.Normalize(config.GetString()!, archive),
                    Strings(e, "RepoTags", archive),
                    Strings(e, "Layers", archive).Select(l => ArchivePath.Normalize(l, archive)).ToList());
            }).ToList();
        }
        catch (JsonException e)
        {
            throw Invalid(archive, "manifest.json is not valid JSON", e);
        }
    }

    private static List<string> Strings(JsonElement entry, string property, string archive)
    {
        if (!entry.TryGetProperty(property, out var value) || value.ValueKind == JsonValueKind.Null) return [];
        if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
            throw Invalid(archive, $"{property} in manifest.json is not a list of strings");
        return value.EnumerateArray().Select(v => v.GetString()!).ToList();
    }

    private static List<Digest> ReadDiffIds(byte[] config, string archive)
    {
        try
        {
            using var document = JsonDocument.Parse(config);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("rootfs", out var rootfs) && rootfs.ValueKind == JsonValueKind.Object
                && rootfs.TryGetProperty("diff_ids", out var ids) && ids.ValueKind == JsonValueKind.Array)
            {
                return ids.EnumerateArray()
                    .Select(id => Digest.TryParse(id.ValueKind == JsonValueKind.String ? id.GetString() : null, out var d)
                        ? d : throw Invalid(archive, $"the config has an invalid diff_id {id}"))
                    .ToList();
            }
            throw Invalid(archive, "the config has no rootfs.diff_ids");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw Invalid(archive, "the config is not valid JSON", e);
        }
    }

    private static S3loException Invalid(string archive, string why, Exception? inner = null)
        => new(ErrorIds.InvalidArchive, S3loErrorKind.InvalidData, $"{archive} is not a valid docker-save archive: {why}.", archive, inner);
}
