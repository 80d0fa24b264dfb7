namespace S3lo.Core.Formats;

/// <summary>
/// Opens an image stored in a file or directory. Each format is an <see cref="IImageSource"/>; sources that are
/// not files (a Docker daemon, a registry) implement the same interface and are opened by their own factories.
/// </summary>
public static class ImageSources
{
    /// <summary>Opens the OCI image layout directory, oci-archive or docker-save archive at <paramref name="path"/>.</summary>
    /// <param name="path">An absolute path.</param>
    /// <param name="sourceTag">Which image to take when the source holds several: a tag (<c>v1</c>) or a full name
    /// (<c>app:v1</c>); may be null when the source holds one image.</param>
    public static async Task<IImageSource> OpenAsync(string path, string? sourceTag, CancellationToken cancellationToken)
    {
        if (!Path.IsPathFullyQualified(path))
            throw new ArgumentException($"'{path}' is not an absolute path.", nameof(path));
        IFileSet files;
        if (Directory.Exists(path)) files = new DirectoryFileSet(path);
        else if (File.Exists(path)) files = TarFileSet.Open(path);
        else throw new S3loException(ErrorIds.SourceNotFound, S3loErrorKind.NotFound, $"There is no file or directory at {path}.", path);

        // A Docker 25+ save holds an OCI layout beside its manifest.json; the layout is the richer description
        // (it keeps manifests and media types verbatim), so it wins.
        if (files.TryGetLength(OciLayout.LayoutFile) is not null && files.TryGetLength(OciLayout.IndexFile) is not null)
            return await OciLayoutReader.OpenAsync(files, sourceTag, cancellationToken).ConfigureAwait(false);
        if (files.TryGetLength(DockerArchiveReader.ManifestFile) is not null)
            return await DockerArchiveReader.OpenAsync(files, sourceTag, cancellationToken).ConfigureAwait(false);
        throw new S3loException(ErrorIds.UnsupportedSource, S3loErrorKind.InvalidArgument,
            $"{path} is neither an OCI image layout (oci-layout and index.json), an oci-archive, nor a docker-save archive (manifest.json).", path);
    }
}
