using System.Text.Json;
using System.Text.Json.Nodes;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Formats;

/// <summary>Names and documents of the OCI image layout, shared by its readers and writers.</summary>
internal static class OciLayout
{
    public const string LayoutFile = "oci-layout";
    public const string IndexFile = "index.json";
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";
    public const string ContainerdNameAnnotation = "io.containerd.image.name";

    // A store's blob keys and oci-layout document are those of an OCI image layout, by design.
    public static byte[] LayoutBytes => StoreLayout.OciLayoutContent;

    public static string BlobPath(Digest digest) => StoreLayout.BlobKey(digest);

    /// <summary>An index.json naming one image.</summary>
    public static byte[] CreateIndex(Manifest manifest, IReadOnlyDictionary<string, string> annotations)
    {
        var entry = new Descriptor(manifest.MediaType, manifest.Digest, manifest.Bytes.Length) { Annotations = annotations };
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = MediaTypes.OciIndex,
            ["manifests"] = new JsonArray(entry.ToJson()),
        };
        return JsonSerializer.SerializeToUtf8Bytes(index);
    }
}

/// <summary>Reads an OCI image layout (a directory, an oci-archive, or a Docker 25+ save, which embeds one).</summary>
internal static class OciLayoutReader
{
    public static async Task<IImageSource> OpenAsync(IFileSet files, string? sourceTag, CancellationToken cancellationToken)
    {
        var indexBytes = await files.TryReadSmallFileAsync(OciLayout.IndexFile, Manifest.MaxBytes, cancellationToken).ConfigureAwait(false);
        var index = Manifest.Parse(indexBytes!, MediaTypes.OciIndex);
        if (!index.IsIndex)
            throw new S3loException(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
                $"The index.json of {files.Description} is not an image index.", files.Description);

        var candidates = index.Manifests
            .Select(d => new ImageCandidate<Descriptor>(d, d.Digest.ToString(), NamesOf(d)))
            .ToList();
        var chosen = ImageChooser.Choose(candidates, sourceTag, files.Description);
        var root = await ReadManifestAsync(files, chosen, cancellationToken).ConfigureAwait(false);
        return new FileSetImageSource(files, root, d => OciLayout.BlobPath(d.Digest));
    }

    private static List<string> NamesOf(Descriptor entry)
        => new[] { OciLayout.RefNameAnnotation, OciLayout.ContainerdNameAnnotation }
            .Select(key => entry.Annotations.GetValueOrDefault(key))
            .OfType<string>()
            .ToList();

    private static Task<Manifest> ReadManifestAsync(IFileSet files, Descriptor descriptor, CancellationToken cancellationToken)
        => ManifestBlob.ReadAsync(descriptor, files.Description, _ => Task.FromResult(
                files.TryOpenRead(OciLayout.BlobPath(descriptor.Digest)) ?? throw FileSetImageSource.BlobNotFound(descriptor, files.Description)),
            cancellationToken);
}
