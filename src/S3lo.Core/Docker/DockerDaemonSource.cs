using S3lo.Core.Formats;
using S3lo.Core.Oci;

namespace S3lo.Core.Docker;

/// <summary>
/// An image held by a Docker daemon (or podman's compatible API), read through the daemon's docker-save export.
/// The export is spooled to a temporary file, which the archive reader needs to seek in and which is deleted on dispose.
/// </summary>
public sealed class DockerDaemonSource : ISelectedPlatformSource
{
    private readonly IImageSource _image;
    private readonly string _spoolPath;

    private DockerDaemonSource(IImageSource image, string spoolPath, DockerImageInfo info, IReadOnlyList<Platform> heldPlatforms, string description)
    {
        _image = image;
        _spoolPath = spoolPath;
        Image = info;
        HeldPlatforms = heldPlatforms;
        Description = description;
    }

    public string Description { get; }

    /// <summary>The manifest of the one platform read from the daemon; never an index.</summary>
    public Manifest Root => _image.Root;

    /// <summary>What the daemon reported about the image when it was opened.</summary>
    public DockerImageInfo Image { get; }

    /// <summary>The platform of the image read.</summary>
    public Platform Platform => _image is PlatformImageSource chosen ? chosen.Platform : Image.Platform;

    /// <summary>Every platform the daemon holds for the name, attestations hidden, when it holds several; else empty.</summary>
    public IReadOnlyList<Platform> HeldPlatforms { get; }

    /// <summary>The platform read, when it was chosen from several the daemon holds for the name.</summary>
    public Platform? SelectedPlatform => HeldPlatforms.Count > 0 ? Platform : null;

    /// <summary>Opens the image the daemon knows as <paramref name="imageName"/> (a name, name:tag, id or digest reference),
    /// one platform of it.</summary>
    /// <param name="platform">The platform to read, or null for the host's when the daemon holds several platforms for
    /// the name and for whichever it holds otherwise. A platform the daemon does not hold is <c>PlatformNotFound</c>
    /// naming what it holds.</param>
    /// <remarks>A daemon holds several platforms for one name in two ways: podman keeps a manifest list whose entries
    /// are images in its storage, each exported by digest; Docker's containerd image store exports an index, from which
    /// the platform is picked.</remarks>
    public static async Task<DockerDaemonSource> OpenAsync(DockerDaemon daemon, string imageName, Platform? platform, CancellationToken cancellationToken)
    {
        var wanted = platform ?? Platform.Host;
        IReadOnlyList<Platform> held = [];
        var exportName = imageName;
        if (await daemon.FindManifestListAsync(imageName, cancellationToken).ConfigureAwait(false) is { } list)
        {
            held = list.Platforms.ToList();
            var entry = list.SelectPlatform(wanted);
            exportName = $"{RepositoryOf(imageName)}@{entry.Digest}";
        }

        DockerImageInfo image;
        try
        {
            image = await daemon.InspectImageAsync(exportName, cancellationToken).ConfigureAwait(false);
        }
        catch (S3loException e) when (e.ErrorId == ErrorIds.ImageNotFound && exportName != imageName)
        {
            throw new S3loException(ErrorIds.ImageNotFound, S3loErrorKind.NotFound,
                $"The Docker daemon at {daemon.Host} lists {wanted} in the manifest list '{imageName}', but the image ({exportName}) is not in its storage; pull it first.",
                imageName, e);
        }
        var spoolPath = Path.Combine(Path.GetTempPath(), $"s3lo-docker-{Guid.NewGuid():N}.tar");
        IImageSource? archive = null;
        try
        {
            // Exporting by id, not by name, guarantees the bytes are the image just inspected even if the tag moves meanwhile.
            await using (var spool = new FileStream(spoolPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                await daemon.ExportImageAsync(image.Id, spool, cancellationToken).ConfigureAwait(false);
            // An export by id holds exactly one image and records no tag for it, so no source tag is given to choose by.
            archive = await ImageSources.OpenAsync(spoolPath, sourceTag: null, cancellationToken).ConfigureAwait(false);
            if (archive.Root.IsIndex)
            {
                held = archive.Root.Platforms.ToList();
                archive = await PlatformImageSource.SelectAsync(archive, wanted, cancellationToken).ConfigureAwait(false);
            }
            else if (platform is not null && exportName == imageName && !platform.Matches(image.Platform))
            {
                // A single image either is the platform asked for or cannot give it; a list entry was chosen by its platform.
                throw new S3loException(ErrorIds.PlatformNotFound, S3loErrorKind.NotFound,
                    $"The Docker daemon at {daemon.Host} holds '{imageName}' for {image.Platform} only, not {platform}.", imageName);
            }
            return new DockerDaemonSource(archive, spoolPath, image, held, $"{imageName} in the Docker daemon at {daemon.Host}");
        }
        catch
        {
            if (archive is not null) await archive.DisposeAsync().ConfigureAwait(false);
            File.Delete(spoolPath);
            throw;
        }
    }

    public Task<Stream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken)
        => _image.OpenBlobAsync(descriptor, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _image.DisposeAsync().ConfigureAwait(false);
        File.Delete(_spoolPath);
    }

    // name:tag and name@digest both name a repository: what precedes the '@', else the name without its tag
    // (Formats.ImageName.Split; Oci.ImageName is the validation of store names).
    private static string RepositoryOf(string imageName)
    {
        var at = imageName.IndexOf('@');
        return at >= 0 ? imageName[..at] : Formats.ImageName.Split(imageName).Repository;
    }
}
