namespace S3lo.Core.Files;

/// <summary>What an entry of an image's filesystem is.</summary>
public enum ImageFileType
{
    File,
    Directory,
    Symlink,
    Hardlink,

    /// <summary>A device node or a FIFO.</summary>
    Other,
}

/// <summary>
/// One entry of an image's merged filesystem (its layers applied in order, whiteouts applied).
/// </summary>
/// <param name="Path">The absolute path in the image, '/'-rooted.</param>
/// <param name="Size">The file's size; for a hard link the size of the file it names; 0 for directories and symbolic links.</param>
/// <param name="LinkTarget">A symbolic link's target as stored (relative or absolute), or the image path a hard link names.</param>
/// <param name="Mode">The permission bits, or null when the layer's file index does not record them (and for directories only implied by the paths under them).</param>
/// <param name="Modified">The modification time, or null when unknown.</param>
/// <param name="Layer">The digest of the layer this entry comes from.</param>
public sealed record ImageFileInfo(string Path, ImageFileType Type, long Size, string? LinkTarget, UnixFileMode? Mode, DateTimeOffset? Modified, string Layer)
{
    /// <summary>The last segment of <see cref="Path"/>.</summary>
    public string Name => Path == "/" ? "/" : Path[(Path.LastIndexOf('/') + 1)..];
}
