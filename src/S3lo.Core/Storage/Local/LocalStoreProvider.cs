using S3lo.Core.Oci;

namespace S3lo.Core.Storage.Local;

/// <summary>
/// <c>local://path/name:tag</c>: a directory on this machine. The store of a reference is read as the Go s3lo reads it,
/// so both tools write the same place for the same text: one path component taken together with a leading <c>./</c>,
/// <c>../</c> or <c>/</c> (<c>local://./store/org/app:v1</c> is store <c>./store</c>, image <c>org/app</c>). A store
/// that already exists deeper on the path wins (<c>./store/org</c>, once it holds <c>blobs/sha256</c> or
/// <c>s3lo.yaml</c>, makes the image <c>app</c>); <c>-Store</c> takes any directory.
/// </summary>
public sealed class LocalStoreProvider : IStoreProvider
{
    public static LocalStoreProvider Instance { get; } = new();

    private LocalStoreProvider()
    {
    }

    public string Scheme => "local";

    /// <summary>A directory, given as an absolute path, as a store location.</summary>
    public static StoreLocation Location(string absolutePath)
    {
        if (!Path.IsPathFullyQualified(absolutePath))
            throw new ArgumentException("A local store needs an absolute path.", nameof(absolutePath));
        var full = Path.GetFullPath(absolutePath);
        var trimmed = Path.TrimEndingDirectorySeparator(full);
        return new StoreLocation(Instance, trimmed.Length == 0 ? full : trimmed, null);
    }

    /// <summary>
    /// A local directory counts as an existing store once it holds <c>blobs/sha256</c> (every pushed tag puts
    /// its config there) or <c>s3lo.yaml</c>; a bare <c>manifests</c> folder is too common in projects to count.
    /// </summary>
    public static bool IsStoreDirectory(string path)
        => Directory.Exists(Path.Combine(path, "blobs", "sha256")) || File.Exists(Path.Combine(path, "s3lo.yaml"));

    public (StoreLocation Store, string? Image) ParseReference(string text, string rest, StoreContext context)
    {
        if (rest.Length == 0) throw ImageReference.Invalid(text, "it has no path");
        if (rest.Contains('\0')) throw ImageReference.Invalid(text, "its path holds a NUL character");
        if (IsSeparator(rest[^1])) return (Location(context.ResolvePath(rest)), null);
        var (namePath, tag, digest) = ImageReference.SplitNameTagDigest(rest, text);
        var absolute = Path.TrimEndingDirectorySeparator(Path.GetFullPath(context.ResolvePath(namePath)));
        if (tag is null && digest is null && IsStoreDirectory(absolute)) return (Location(absolute), null);

        var (rootText, name) = SplitRoot(namePath, text);
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(context.ResolvePath(rootText)));
        for (var dir = Path.GetDirectoryName(absolute); dir is not null && IsBelow(dir, root); dir = Path.GetDirectoryName(dir))
        {
            if (IsStoreDirectory(dir)) return (Location(dir), Path.GetRelativePath(dir, absolute).Replace('\\', '/') + Suffix(tag, digest));
        }
        return (Location(root), name + Suffix(tag, digest));
    }

    public StoreLocation ParseStore(string text, string rest, StoreContext context)
    {
        if (rest.Length == 0) throw ImageReference.Invalid(text, "it has no path");
        if (rest.Contains('\0')) throw ImageReference.Invalid(text, "its path holds a NUL character");
        return Location(context.ResolvePath(rest));
    }

    public string FormatRoot(string root) => root.Replace('\\', '/').TrimEnd('/');

    public Task<IObjectStore> OpenAsync(StoreLocation location, CancellationToken cancellationToken)
        => Task.FromResult<IObjectStore>(new LocalObjectStore(location));

    /// <summary>
    /// The written store path and the image name of <paramref name="path"/>: a leading <c>/</c> (or drive), or a run of
    /// <c>./</c> and <c>../</c>, with the component after it; a path of one component is an image in the directory the
    /// prefix names. Every segment of the image must be a real name: not empty, <c>.</c> or <c>..</c>.
    /// </summary>
    private static (string Root, string Name) SplitRoot(string path, string text)
    {
        var segments = Path.DirectorySeparatorChar == '\\' ? path.Split(['/', '\\']) : path.Split('/');
        var i = 0;
        var prefix = "";
        if (segments[0].Length == 0 && segments.Length > 1)
        {
            prefix = "/";
            i = 1;
        }
        else if (OperatingSystem.IsWindows() && segments[0].Length == 2 && segments[0][1] == ':')
        {
            prefix = segments[0] + "/";
            i = 1;
        }
        else
        {
            while (i < segments.Length - 1 && segments[i] is "." or "..") prefix += segments[i++] + "/";
        }
        var rest = segments[i..];
        if (rest.Any(s => s is "" or "." or ".."))
            throw ImageReference.Invalid(text, "a path segment is empty, '.' or '..'");
        return rest.Length == 1
            ? (prefix.Length == 0 ? "." : prefix, rest[0])
            : (prefix + rest[0], string.Join('/', rest[1..]));
    }

    private static bool IsSeparator(char c) => c == '/' || (c == '\\' && Path.DirectorySeparatorChar == '\\');

    private static bool IsBelow(string dir, string root)
        => dir.Length > root.Length && dir.StartsWith(root, StringComparison.Ordinal) && (root.EndsWith(Path.DirectorySeparatorChar) || dir[root.Length] == Path.DirectorySeparatorChar)
           || dir == root;

    private static string Suffix(string? tag, string? digest) => (tag is null ? "" : ":" + tag) + (digest is null ? "" : "@" + digest);
}
