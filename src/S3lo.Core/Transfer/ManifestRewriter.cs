using System.Text.Json;
using System.Text.Json.Nodes;
using S3lo.Core.Formats;
using S3lo.Core.Oci;

namespace S3lo.Core.Transfer;

/// <summary>
/// Rewrites manifests whose layers a destination stores under other descriptors (<see cref="ILayerStoringDestination"/>),
/// and the indexes above them: every other field stays as it was, and the new document is written compactly, in the
/// source's property order, so the same image always gives the same bytes. A Docker schema-2 manifest or list that
/// changes becomes its OCI equivalent, since it then names OCI layer types.
/// </summary>
internal static class ManifestRewriter
{
    /// <summary>The manifest with the descriptors in <paramref name="replaced"/> (by their old digest) put in; the same
    /// object when none of its references is replaced.</summary>
    public static Manifest Rewrite(Manifest manifest, IReadOnlyDictionary<Digest, Descriptor> replaced)
    {
        if (!manifest.References.Any(r => replaced.TryGetValue(r.Digest, out var to) && !SameTarget(r, to))) return manifest;
        var root = JsonNode.Parse(manifest.Bytes)!.AsObject();
        var entries = root[manifest.IsIndex ? "manifests" : "layers"]!.AsArray();
        foreach (var entry in entries.OfType<JsonObject>())
        {
            if (!Digest.TryParse((string?)entry["digest"], out var digest) || !replaced.TryGetValue(digest, out var to)) continue;
            entry["mediaType"] = to.MediaType;
            entry["digest"] = to.Digest.ToString();
            entry["size"] = to.Size;
        }
        if (manifest.IsIndex)
        {
            if (manifest.MediaType == MediaTypes.DockerManifestList) root["mediaType"] = MediaTypes.OciIndex;
        }
        else if (manifest.MediaType == MediaTypes.DockerManifest || root["mediaType"] is null)
        {
            root["mediaType"] = MediaTypes.OciManifest;
            if (root["config"] is JsonObject config && (string?)config["mediaType"] == MediaTypes.DockerConfig) config["mediaType"] = MediaTypes.OciConfig;
            foreach (var layer in entries.OfType<JsonObject>())
            {
                if (OciLayerType((string?)layer["mediaType"]) is { } oci) layer["mediaType"] = oci;
            }
        }
        return Manifest.Parse(JsonSerializer.SerializeToUtf8Bytes(root));
    }

    private static bool SameTarget(Descriptor a, Descriptor b) => a.Digest == b.Digest && a.Size == b.Size && a.MediaType == b.MediaType;

    private static string? OciLayerType(string? docker) => docker switch
    {
        DockerLayer => MediaTypes.OciLayer,
        DockerLayerGzip => MediaTypes.OciLayerGzip,
        _ => null,
    };

    private const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
    private const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    /// <summary>Whether a layer is a (possibly compressed) tar of files, the only kind stored in another form.</summary>
    public static bool IsTarLayer(string mediaType)
        => mediaType is MediaTypes.OciLayer or MediaTypes.OciLayerGzip or MediaTypes.OciLayerZstd or DockerLayer or DockerLayerGzip;

    /// <summary>
    /// The diff_id of every tar layer of the image manifests in the tree, read from their configs (each checked against
    /// its digest). A manifest whose config is not an image config, or lists another number of diff_ids than it has
    /// layers, gives none: its layers move as they are.
    /// </summary>
    public static async Task<Dictionary<Digest, Digest>> ReadDiffIdsAsync(IImageSource source, IEnumerable<Manifest> manifests,
        CancellationToken cancellationToken)
    {
        var diffIds = new Dictionary<Digest, Digest>();
        foreach (var manifest in manifests)
        {
            if (manifest.IsIndex || manifest.Config is not { } config || config.MediaType is not (MediaTypes.OciConfig or MediaTypes.DockerConfig)) continue;
            var bytes = await ReadConfigAsync(source, config, cancellationToken).ConfigureAwait(false);
            List<Digest>? listed = null;
            try
            {
                listed = JsonNode.Parse(bytes)?["rootfs"]?["diff_ids"]?.AsArray().Select(d => Digest.Parse((string?)d ?? "")).ToList();
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or S3loException)
            {
                listed = null;
            }
            if (listed is null || listed.Count != manifest.Layers.Count) continue;
            for (var i = 0; i < listed.Count; i++)
            {
                var layer = manifest.Layers[i];
                if (!IsTarLayer(layer.MediaType)) continue;
                if (diffIds.TryGetValue(layer.Digest, out var known) && known != listed[i])
                    throw new S3loException(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
                        $"The layer {layer.Digest} in {source.Description} has two diff_ids, {known} and {listed[i]}, in the configs that list it.",
                        layer.Digest.ToString());
                diffIds[layer.Digest] = listed[i];
            }
        }
        return diffIds;
    }

    internal static async Task<byte[]> ReadConfigAsync(IImageSource source, Descriptor config, CancellationToken cancellationToken)
    {
        if (config.Size > Manifest.MaxBytes)
            throw new S3loException(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
                $"The image config {config.Digest} in {source.Description} claims {config.Size} bytes, more than a config may have.", config.Digest.ToString());
        var raw = await source.OpenBlobAsync(config, cancellationToken).ConfigureAwait(false);
        await using var verified = new IO.VerifyingReadStream(raw, config.Digest, config.Size, $"config {config.Digest} in {source.Description}");
        using var buffer = new MemoryStream((int)config.Size);
        await verified.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return buffer.ToArray();
    }
}
