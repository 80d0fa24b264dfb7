namespace S3lo.Core.Formats;

/// <summary>
/// Names inside an archive or a layout directory, always '/'-separated and relative to its root.
/// Nothing is ever extracted, but names are still checked: a name that could point outside the root
/// is a sign of a hostile or broken archive, and the user should hear about it rather than have it skipped.
/// </summary>
internal static class ArchivePath
{
    /// <summary>Returns the canonical form of <paramref name="name"/> (no <c>./</c>, no empty or <c>.</c> segments).</summary>
    public static string Normalize(string name, string archive)
    {
        if (name.Contains('\\') || name.StartsWith('/') || LooksLikeDriveRoot(name) || name.IndexOf('\0') >= 0)
            throw Unsafe(name, archive);
        var segments = name.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => s != ".").ToList();
        if (segments.Contains("..")) throw Unsafe(name, archive);
        return string.Join('/', segments);
    }

    /// <summary>Resolves a symbolic link's target against the directory of the link, staying inside the root.</summary>
    public static string ResolveSymlink(string linkName, string target, string archive)
    {
        if (target.Contains('\\') || target.StartsWith('/') || LooksLikeDriveRoot(target)) throw Unsafe(linkName, archive);
        var resolved = linkName.Split('/').SkipLast(1).ToList();
        foreach (var segment in target.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (segment == ".") continue;
            if (segment != "..") resolved.Add(segment);
            else if (resolved.Count > 0) resolved.RemoveAt(resolved.Count - 1);
            else throw Unsafe(linkName, archive);
        }
        return string.Join('/', resolved);
    }

    private static bool LooksLikeDriveRoot(string name) => name.Length >= 2 && name[1] == ':' && char.IsAsciiLetter(name[0]);

    private static S3loException Unsafe(string name, string archive)
        => new(ErrorIds.UnsafeArchivePath, S3loErrorKind.InvalidData,
            $"The archive {archive} contains the entry '{name}', whose path is absolute or leaves the archive; S3lo refuses to read it.", name);
}
