namespace S3lo.Core.Formats;

/// <summary>
/// The files of an image layout, wherever they live: a directory, or the members of a tar archive.
/// Readers of OCI layouts and docker-save archives work on this, so each format is parsed once
/// whether it arrives packed or unpacked.
/// </summary>
internal interface IFileSet
{
    /// <summary>How messages name the whole set, e.g. the archive path.</summary>
    string Description { get; }

    /// <summary>The length of the file at the '/'-separated <paramref name="path"/>, or null when it is absent.</summary>
    long? TryGetLength(string path);

    /// <summary>An independent read-only stream over the file, or null when it is absent.</summary>
    Stream? TryOpenRead(string path);
}

internal static class FileSetExtensions
{
    /// <summary>Reads a small file (JSON metadata) whole; refuses files larger than <paramref name="maxSize"/> rather than
    /// allocating whatever a broken archive claims.</summary>
    public static async Task<byte[]?> TryReadSmallFileAsync(this IFileSet files, string path, long maxSize, CancellationToken cancellationToken)
    {
        var length = files.TryGetLength(path);
        if (length is null) return null;
        if (length > maxSize)
            throw new S3loException(ErrorIds.InvalidArchive, S3loErrorKind.InvalidData,
                $"'{path}' in {files.Description} is {length} bytes, more than the {maxSize} bytes allowed for image metadata.", path);
        await using var stream = files.TryOpenRead(path)!;
        var buffer = new byte[length.Value];
        await stream.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
        return buffer;
    }
}

internal sealed class DirectoryFileSet(string root) : IFileSet
{
    public string Description => root;

    public long? TryGetLength(string path)
    {
        var file = new FileInfo(FullPath(path));
        return file.Exists ? file.Length : null;
    }

    public Stream? TryOpenRead(string path)
    {
        try
        {
            return new FileStream(FullPath(path), FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private string FullPath(string path) => Path.Combine(root, ArchivePath.Normalize(path, root).Replace('/', Path.DirectorySeparatorChar));
}
