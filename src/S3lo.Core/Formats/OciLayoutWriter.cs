using S3lo.Core.Oci;

namespace S3lo.Core.Formats;

/// <summary>Saves an image as an OCI image layout directory.</summary>
internal sealed class OciLayoutWriter : IImageWriter
{
    private readonly OutputTarget _target;
    private readonly string? _imageName;
    private bool _completed;

    public OciLayoutWriter(OutputTarget target, string? imageName)
    {
        _target = target;
        _imageName = imageName;
        Directory.CreateDirectory(Path.Combine(target.TempPath, "blobs", "sha256"));
    }

    /// <summary>Blobs are separate files, so writes do not contend; a few at once keep a slow source busy.</summary>
    public int MaxConcurrentBlobWrites => 4;

    public async Task WriteBlobAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken)
    {
        var path = BlobFile(descriptor.Digest);
        if (File.Exists(path)) return;
        // Each write goes to its own partial file, so concurrent or retried writes of one digest cannot interleave.
        var partial = path + ".partial-" + Path.GetRandomFileName();
        try
        {
            await using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous))
            {
                await content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                if (file.Length != descriptor.Size)
                    throw new S3loException(ErrorIds.SizeMismatch, S3loErrorKind.InvalidData,
                        $"The blob {descriptor.Digest} has {file.Length} bytes, but its descriptor states {descriptor.Size}.", descriptor.Digest.ToString());
            }
            File.Move(partial, path, overwrite: true);
        }
        finally
        {
            File.Delete(partial);
        }
    }

    public async Task CompleteAsync(Manifest manifest, CancellationToken cancellationToken)
    {
        var missing = manifest.References.FirstOrDefault(d => !File.Exists(BlobFile(d.Digest)));
        if (missing is not null) throw TarImageWriter.NotWritten(missing, _target.FinalPath);
        await File.WriteAllBytesAsync(BlobFile(manifest.Digest), manifest.Bytes, cancellationToken).ConfigureAwait(false);
        await File.WriteAllBytesAsync(Path.Combine(_target.TempPath, OciLayout.IndexFile),
            OciLayout.CreateIndex(manifest, ImageWriters.NameAnnotations(_imageName, docker: false)), cancellationToken).ConfigureAwait(false);
        await File.WriteAllBytesAsync(Path.Combine(_target.TempPath, OciLayout.LayoutFile), OciLayout.LayoutBytes, cancellationToken).ConfigureAwait(false);
        _target.Commit();
        _completed = true;
    }

    public ValueTask DisposeAsync()
    {
        if (!_completed) _target.Discard();
        return ValueTask.CompletedTask;
    }

    private string BlobFile(Digest digest) => Path.Combine(_target.TempPath, "blobs", "sha256", digest.Hex);
}
