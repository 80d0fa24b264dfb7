namespace S3lo.Core.Files;

/// <summary>Paths inside an image: absolute, '/'-separated, without '.' or '..' segments.</summary>
public static class ImagePath
{
    public const string Root = "/";

    /// <summary>A path given by a user, made absolute; <c>..</c> may go up but never above the root (<c>InvalidArgument</c>).</summary>
    public static string Normalize(string path)
    {
        var segments = new List<string>();
        foreach (var segment in path.Split('/'))
        {
            if (segment is "" or ".") continue;
            if (segment == "..")
            {
                if (segments.Count == 0)
                    throw new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                        $"The path '{path}' climbs out of the image's root with '..'.", path);
                segments.RemoveAt(segments.Count - 1);
                continue;
            }
            segments.Add(segment);
        }
        return Root + string.Join('/', segments);
    }

    /// <summary>The image path of a tar entry or file-index name (<c>./etc/x</c>, <c>etc/x</c>, <c>etc/</c>); null for the root
    /// itself. A name with a <c>..</c> segment is <c>UnsafeArchivePath</c>: no layer may write outside its root.</summary>
    internal static string? FromEntryName(string name, string layer)
    {
        var segments = new List<string>();
        foreach (var segment in name.Split('/'))
        {
            if (segment is "" or ".") continue;
            if (segment == "..")
                throw new S3loException(ErrorIds.UnsafeArchivePath, S3loErrorKind.InvalidData,
                    $"The layer {layer} has an entry '{name}' that climbs out of the image's root.", layer);
            segments.Add(segment);
        }
        return segments.Count == 0 ? null : Root + string.Join('/', segments);
    }

    /// <summary>The directory of an absolute path ("/" for "/etc").</summary>
    internal static string Parent(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash <= 0 ? Root : path[..slash];
    }

    internal static string Combine(string directory, string name) => directory == Root ? Root + name : directory + "/" + name;

    internal static string[] Segments(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);
}
