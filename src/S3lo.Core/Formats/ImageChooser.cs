namespace S3lo.Core.Formats;

/// <summary>One image an OCI index.json or a docker manifest.json offers, with the names it is known by.</summary>
/// <param name="Identity">What makes two entries the same image (a digest, a config path): the same image listed
/// under two names is not an ambiguity.</param>
internal sealed record ImageCandidate<T>(T Item, string Identity, IReadOnlyList<string> Names);

/// <summary>Picks the image a user asked for from a source that may hold several.</summary>
internal static class ImageChooser
{
    public static T Choose<T>(IReadOnlyList<ImageCandidate<T>> candidates, string? sourceTag, string sourceDescription)
    {
        if (candidates.Count == 0)
            throw new S3loException(ErrorIds.SourceImageNotFound, S3loErrorKind.NotFound,
                $"{sourceDescription} holds no image.", sourceDescription);
        if (string.IsNullOrEmpty(sourceTag))
        {
            if (candidates.DistinctBy(c => c.Identity).Count() == 1) return candidates[0].Item;
            throw new S3loException(ErrorIds.AmbiguousSourceImage, S3loErrorKind.InvalidArgument,
                $"{sourceDescription} holds {candidates.DistinctBy(c => c.Identity).Count()} images; name the one to use with a source tag: {Available(candidates)}.",
                sourceDescription);
        }

        // A full name beats a bare tag, so that "app:v1" is not ambiguous with "other:v1" when the user typed "app:v1".
        var qualified = ImageName.QualifyForDocker(sourceTag);
        var matches = candidates.Where(c => c.Names.Any(n => n == sourceTag || ImageName.QualifyForDocker(n) == qualified)).ToList();
        if (matches.Count == 0) matches = candidates.Where(c => c.Names.Any(n => ImageName.Split(n).Tag == sourceTag)).ToList();
        if (matches.Count == 0)
            throw new S3loException(ErrorIds.SourceImageNotFound, S3loErrorKind.NotFound,
                $"{sourceDescription} has no image named '{sourceTag}'; it holds: {Available(candidates)}.", sourceTag);
        if (matches.DistinctBy(c => c.Identity).Count() > 1)
            throw new S3loException(ErrorIds.AmbiguousSourceImage, S3loErrorKind.InvalidArgument,
                $"'{sourceTag}' names several images in {sourceDescription}; use a full name: {Available(matches)}.", sourceTag);
        return matches[0].Item;
    }

    private static string Available<T>(IEnumerable<ImageCandidate<T>> candidates)
        => string.Join(", ", candidates.SelectMany(c => c.Names.Count > 0 ? c.Names : [$"(untagged {c.Identity})"]).Distinct());
}
