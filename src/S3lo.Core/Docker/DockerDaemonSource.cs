using S3lo.Core.Formats;
using S3lo.Core.Oci;

namespace S3lo.Core.Docker;

/// <summary>
/// An image held by a Docker daemon (or podman's compatible API), read through the daemon's docker-save export.
/// The export is spooled to a temporary file, which the archive reader needs to seek in and which is deleted on dispose.
/// </summary>
public sealed class DockerDaemonSource : IImageSource
{
    private readonly IImageSource _archive;
    private readonly string _spoolPath;

    private DockerDaemonSource(IImageSource archive, string spoolPath, DockerImageInfo image, string description)
    {
        _archive = archive;
        _spoolPath = spoolPath;
        Image = image;
        Description = description;
    }

    public string Description { get; }

    public Manifest Root => _archive.Root;

    /// <summary>What the daemon reported about the image when it was opened.</summary>
    public DockerImageInfo Image { get; }

    /// <summary>The platform of the image the daemon holds, requested or not.</summary>
    public Platform Platform => Image.Platform;

    /// <summary>Opens the image the daemon knows as <paramref name="imageName"/> (a name, name:tag, id or digest reference).</summary>
    /// <param name="platform">The platform the image must have, or null to take whichever the daemon holds. When the daemon
    /// exports a single image of another platform, that is <c>PlatformNotFound</c> naming what it holds; when it exports an
    /// index (several platforms), the root is that index and the caller picks from it.</param>
    public static async Task<DockerDaemonSource> OpenAsync(DockerDaemon daemon, string imageName, Platform? platform, CancellationToken cancellationToken)
    {
        var image = await daemon.InspectImageAsync(imageName, cancellationToken).ConfigureAwait(false);
        var spoolPath = Path.Combine(Path.GetTempPath(), $"s3lo-docker-{Guid.NewGuid():N}.tar");
        try
        {
            // Exporting by id, not by name, guarantees the bytes are the image just inspected even if the tag moves meanwhile.
            await using (var spool = new FileStream(spoolPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                await daemon.ExportImageAsync(image.Id, spool, cancellationToken).ConfigureAwait(false);
            // An export by id holds exactly one image and records no tag for it, so no source tag is given to choose by.
            var archive = await ImageSources.OpenAsync(spoolPath, sourceTag: null, cancellationToken).ConfigureAwait(false);
            // A daemon with a multi-platform store exports an index, from which the caller picks the platform;
            // a single image either is the platform asked for or cannot give it.
            if (platform is not null && !archive.Root.IsIndex && !platform.Matches(image.Platform))
                throw new S3loException(ErrorIds.PlatformNotFound, S3loErrorKind.NotFound,
                    $"The Docker daemon at {daemon.Host} holds '{imageName}' for {image.Platform} only, not {platform}.", imageName);
            return new DockerDaemonSource(archive, spoolPath, image, $"{imageName} in the Docker daemon at {daemon.Host}");
        }
        catch
        {
            File.Delete(spoolPath);
            throw;
        }
    }

    public Task<Stream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken)
        => _archive.OpenBlobAsync(descriptor, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _archive.DisposeAsync().ConfigureAwait(false);
        File.Delete(_spoolPath);
    }
}
