using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Transfer;

namespace S3lo.Core.Docker;

/// <summary>
/// A Docker daemon (or podman's compatible API) as the destination of a transfer: the image is written as a
/// docker-archive to a temporary file, which publishing loads into the daemon, as <c>docker load</c> does. The file is
/// deleted on dispose, whether the load succeeded or not.
/// </summary>
public sealed class DockerDaemonDestination : IConcurrencyLimitedDestination
{
    private readonly DockerDaemon _daemon;
    private readonly string _imageName;
    private readonly string _archivePath;
    private readonly ImageWriterDestination _archive;

    private DockerDaemonDestination(DockerDaemon daemon, string imageName, string archivePath, ImageWriterDestination archive)
    {
        _daemon = daemon;
        _imageName = imageName;
        _archivePath = archivePath;
        _archive = archive;
    }

    /// <param name="imageName">The name the image gets in the daemon, such as <c>app:v1.4</c>.</param>
    public static DockerDaemonDestination Create(DockerDaemon daemon, string imageName)
    {
        var archivePath = Path.Combine(Path.GetTempPath(), $"s3lo-docker-load-{Guid.NewGuid():N}.tar");
        return new DockerDaemonDestination(daemon, imageName, archivePath,
            ImageWriterDestination.Create(ImageFormat.DockerArchive, archivePath, imageName, overwrite: true));
    }

    public string Description => $"{_imageName} in the Docker daemon at {_daemon.Host}";

    public int MaxConcurrentBlobWrites => _archive.MaxConcurrentBlobWrites;

    public Task<bool> ContainsAsync(Descriptor descriptor, CancellationToken cancellationToken) => _archive.ContainsAsync(descriptor, cancellationToken);

    public Task PutBlobAsync(Descriptor descriptor, Func<CancellationToken, Task<Stream>> open, Action<long> progress, CancellationToken cancellationToken)
        => _archive.PutBlobAsync(descriptor, open, progress, cancellationToken);

    public Task PutManifestAsync(Descriptor entry, Manifest manifest, CancellationToken cancellationToken)
        => _archive.PutManifestAsync(entry, manifest, cancellationToken);

    public async Task<TransferResult> PublishAsync(ImageToPublish image, TransferResult result, CancellationToken cancellationToken)
    {
        // The archive's own additions (its temporary path) are not what the caller asked for.
        await _archive.PublishAsync(image, result, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<string> loaded;
        await using (var archive = new FileStream(_archivePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16,
                         FileOptions.Asynchronous | FileOptions.SequentialScan))
            loaded = await _daemon.LoadAsync(archive, cancellationToken).ConfigureAwait(false);
        return result with { ImageName = _imageName, Loaded = loaded };
    }

    public async ValueTask DisposeAsync()
    {
        await _archive.DisposeAsync().ConfigureAwait(false);
        File.Delete(_archivePath);
    }
}
