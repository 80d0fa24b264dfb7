namespace S3lo.Core.Formats;

/// <summary>
/// The final path of a save and the hidden temporary path beside it where the output is assembled. Keeping the
/// temporary output in the same directory makes the final move a rename, and a failed save leaves nothing behind.
/// </summary>
internal sealed class OutputTarget
{
    private const string TempPrefix = ".s3lo-save-";

    private readonly bool _isDirectory;
    private readonly bool _overwrite;

    private OutputTarget(string finalPath, string tempPath, bool isDirectory, bool overwrite)
    {
        FinalPath = finalPath;
        TempPath = tempPath;
        _isDirectory = isDirectory;
        _overwrite = overwrite;
    }

    public string FinalPath { get; }
    public string TempPath { get; }

    /// <summary>Checks that the output may be written (before anything is), and chooses the temporary path.</summary>
    public static OutputTarget Reserve(string finalPath, bool isDirectory, bool overwrite)
    {
        if (!Path.IsPathFullyQualified(finalPath)) throw new ArgumentException($"'{finalPath}' is not an absolute path.", nameof(finalPath));
        finalPath = Path.TrimEndingDirectorySeparator(finalPath);
        CheckReplaceable(finalPath, isDirectory, overwrite);
        var parent = Path.GetDirectoryName(finalPath)!;
        try
        {
            Directory.CreateDirectory(parent);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new S3loException(ErrorIds.OutputError, S3loErrorKind.WriteError, $"Cannot write {finalPath}: {e.Message}", finalPath, e);
        }
        return new OutputTarget(finalPath, Path.Combine(parent, TempPrefix + Path.GetRandomFileName().Replace(".", "")), isDirectory, overwrite);
    }

    /// <summary>Moves the finished temporary output to the final path.</summary>
    public void Commit()
    {
        CheckReplaceable(FinalPath, _isDirectory, _overwrite);
        try
        {
            if (!_isDirectory)
            {
                File.Move(TempPath, FinalPath, _overwrite);
                return;
            }
            if (!Directory.Exists(FinalPath))
            {
                Directory.Move(TempPath, FinalPath);
                return;
            }
            // A directory cannot be renamed over another: move the old one aside first, so that the final path
            // is never missing a complete layout for longer than two renames.
            var old = TempPath + "-old";
            Directory.Move(FinalPath, old);
            Directory.Move(TempPath, FinalPath);
            Directory.Delete(old, recursive: true);
        }
        catch (IOException e) when (File.Exists(FinalPath) || Directory.Exists(FinalPath))
        {
            throw Exists(FinalPath, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new S3loException(ErrorIds.OutputError, S3loErrorKind.WriteError, $"Cannot write {FinalPath}: {e.Message}", FinalPath, e);
        }
    }

    /// <summary>Removes the temporary output, whatever state it is in.</summary>
    public void Discard()
    {
        if (Directory.Exists(TempPath)) Directory.Delete(TempPath, recursive: true);
        else File.Delete(TempPath);
    }

    private static void CheckReplaceable(string path, bool isDirectory, bool overwrite)
    {
        var isFile = File.Exists(path);
        var isDir = Directory.Exists(path);
        if (!isFile && !isDir) return;
        if (!overwrite) throw Exists(path);
        if (isDir != isDirectory)
            throw new S3loException(ErrorIds.OutputExists, S3loErrorKind.ResourceExists,
                $"{path} is a {(isDir ? "directory" : "file")}; S3lo will not replace it with a {(isDirectory ? "directory" : "file")}.", path);
        // Overwriting must not turn into deleting an unrelated directory tree given by mistake.
        if (isDir && Directory.EnumerateFileSystemEntries(path).Any() && !File.Exists(Path.Combine(path, OciLayout.LayoutFile)))
            throw new S3loException(ErrorIds.OutputExists, S3loErrorKind.ResourceExists,
                $"{path} is a directory that is not an OCI image layout; S3lo will not replace it.", path);
    }

    private static S3loException Exists(string path, Exception? inner = null)
        => new(ErrorIds.OutputExists, S3loErrorKind.ResourceExists, $"{path} already exists; allow overwriting to replace it.", path, inner);
}
