namespace S3lo.Core.Formats;

public enum ImageFormat
{
    /// <summary>An OCI image layout directory.</summary>
    OciLayout,
    /// <summary>An OCI image layout in a tar file.</summary>
    OciArchive,
    /// <summary>A tar file that <c>docker load</c> and <c>podman load</c> accept.</summary>
    DockerArchive,
}

public static class ImageWriters
{
    /// <summary>Creates a writer that saves one image to <paramref name="path"/>.</summary>
    /// <param name="path">An absolute path; it must not exist unless <paramref name="overwrite"/> is set.</param>
    /// <param name="imageName">The name recorded in the output, such as <c>app:v1.4</c>: Docker archives record it as
    /// a RepoTag, OCI outputs record its tag as the <c>org.opencontainers.image.ref.name</c> annotation. Null records none.</param>
    public static IImageWriter Create(ImageFormat format, string path, string? imageName, bool overwrite)
    {
        if (imageName is not null && (imageName.Length == 0 || imageName.Contains('@') || imageName.Any(char.IsWhiteSpace)))
            throw new S3loException(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
                $"'{imageName}' cannot name a saved image: expected a name with an optional tag, such as app:v1.4.", imageName);
        return format switch
        {
            ImageFormat.OciLayout => new OciLayoutWriter(OutputTarget.Reserve(path, isDirectory: true, overwrite), imageName),
            ImageFormat.OciArchive => new TarImageWriter(OutputTarget.Reserve(path, isDirectory: false, overwrite), imageName, docker: false),
            ImageFormat.DockerArchive => new TarImageWriter(OutputTarget.Reserve(path, isDirectory: false, overwrite), imageName, docker: true),
            _ => throw new ArgumentOutOfRangeException(nameof(format)),
        };
    }

    /// <summary>The index.json annotations that name a saved image. An OCI ref.name is the tag, as skopeo and Docker write it;
    /// a Docker archive also carries the full name, as Docker 25+ does, so the name survives a read as an OCI layout.</summary>
    internal static Dictionary<string, string> NameAnnotations(string? imageName, bool docker)
    {
        var annotations = new Dictionary<string, string>(StringComparer.Ordinal);
        if (imageName is null) return annotations;
        if (docker) annotations[OciLayout.ContainerdNameAnnotation] = ImageName.QualifyForDocker(imageName);
        annotations[OciLayout.RefNameAnnotation] = ImageName.Split(imageName).Tag ?? "latest";
        return annotations;
    }
}
