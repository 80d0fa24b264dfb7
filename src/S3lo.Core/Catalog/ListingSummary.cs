using System.Globalization;
using System.Text.RegularExpressions;
using S3lo.Core.Oci;

namespace S3lo.Core.Catalog;

/// <summary>
/// What a listing shows of a tag beyond its manifest: the platforms and the size. The manifest alone gives neither an
/// image's platform (it is in the config) nor an index's size (its children's blobs count), so S3lo stores both as object
/// metadata on the tag's <c>manifest.json</c> when it writes one, and a listing reads one object per tag
/// (docs/format.md, "Listing metadata"). The metadata names the digest of the manifest it was computed for: beside any
/// other manifest it is ignored and the listing reads what it needs. It serves the listing's display and nothing else.
/// </summary>
internal sealed partial record ListingSummary(IReadOnlyList<string> Platforms, long Size)
{
    public const string DigestName = "s3lodigest";
    public const string PlatformName = "s3loplatform";
    public const string SizeName = "s3losize";

    /// <summary>The metadata to store with <paramref name="manifest"/>; none when there is nothing the manifest does not say
    /// (an image whose config declares no platform, or one that metadata cannot carry).</summary>
    public IReadOnlyDictionary<string, string> ToMetadata(Manifest manifest)
    {
        var digest = manifest.Digest.ToString();
        if (manifest.IsIndex)
            return new Dictionary<string, string> { [DigestName] = digest, [SizeName] = Size.ToString(CultureInfo.InvariantCulture) };
        return Platforms is [var platform] && PlatformPattern().IsMatch(platform)
            ? new Dictionary<string, string> { [DigestName] = digest, [PlatformName] = platform }
            : Storage.ObjectMetadata.None;
    }

    /// <summary>The summary the metadata read with <paramref name="manifest"/> gives; null when it has none, or it was
    /// computed for another manifest, or it does not read as S3lo writes it.</summary>
    public static ListingSummary? FromMetadata(Manifest manifest, IReadOnlyDictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue(DigestName, out var digest) || digest != manifest.Digest.ToString()) return null;
        if (manifest.IsIndex)
        {
            return metadata.TryGetValue(SizeName, out var size) && long.TryParse(size, NumberStyles.None, CultureInfo.InvariantCulture, out var total)
                ? new ListingSummary(IndexPlatforms(manifest), total)
                : null;
        }
        return metadata.TryGetValue(PlatformName, out var platform) && PlatformPattern().IsMatch(platform)
            ? new ListingSummary([platform], ImageSize(manifest))
            : null;
    }

    public static IReadOnlyList<string> IndexPlatforms(Manifest index) => index.Platforms.Select(p => p.ToString()).ToList();

    public static long ImageSize(Manifest image) => image.Bytes.Length + image.ContentSize;

    // os/architecture[/variant] in the characters platforms use: what an HTTP header and Azure metadata carry unchanged.
    [GeneratedRegex("^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?$")]
    private static partial Regex PlatformPattern();
}
