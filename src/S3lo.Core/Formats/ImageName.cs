namespace S3lo.Core.Formats;

/// <summary>The little reference arithmetic the file formats need: splitting off a tag, and Docker's defaulting of
/// short names (<c>app:v1</c> means <c>docker.io/library/app:v1</c> in a RepoTag or a containerd image name).</summary>
internal static class ImageName
{
    /// <summary>Splits <c>registry:5000/app:v1</c> into <c>registry:5000/app</c> and <c>v1</c>; the tag is null when there is none.</summary>
    public static (string Repository, string? Tag) Split(string reference)
    {
        var colon = reference.LastIndexOf(':');
        return colon > reference.LastIndexOf('/') ? (reference[..colon], reference[(colon + 1)..]) : (reference, null);
    }

    /// <summary>The fully qualified form Docker stores, e.g. <c>docker.io/library/app:latest</c> for <c>app</c>.</summary>
    public static string QualifyForDocker(string reference)
    {
        var (repository, tag) = Split(reference);
        var slash = repository.IndexOf('/');
        var firstComponent = slash < 0 ? null : repository[..slash];
        var hasRegistry = firstComponent is not null && (firstComponent.Contains('.') || firstComponent.Contains(':') || firstComponent == "localhost");
        var qualified = hasRegistry ? repository : firstComponent is null ? "docker.io/library/" + repository : "docker.io/" + repository;
        return qualified + ":" + (tag ?? "latest");
    }
}
