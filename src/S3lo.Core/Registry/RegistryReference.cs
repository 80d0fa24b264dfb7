using System.Text.RegularExpressions;
using S3lo.Core.Oci;

namespace S3lo.Core.Registry;

/// <summary>
/// A Docker-style image reference to a registry: <c>alpine</c>, <c>ghcr.io/org/app:v1</c>,
/// <c>localhost:5000/app@sha256:…</c>. Without a registry it means Docker Hub, without a tag or digest <c>latest</c>.
/// </summary>
public sealed partial record RegistryReference
{
    public const string DockerHub = "docker.io";
    public const string DockerHubApiHost = "registry-1.docker.io";
    public const string DefaultTag = "latest";

    private RegistryReference(string registry, string repository, string? tag, Digest? digest)
    {
        Registry = registry;
        Repository = repository;
        Tag = tag;
        Digest = digest;
    }

    /// <summary>The registry as written in references (<c>docker.io</c>, <c>ghcr.io</c>, <c>127.0.0.1:5000</c>).</summary>
    public string Registry { get; }

    /// <summary>The host (and port) the registry API is served from; Docker Hub's differs from its name.</summary>
    public string ApiHost => ApiHostOf(Registry);

    public string Repository { get; }
    public string? Tag { get; }
    public Digest? Digest { get; }

    /// <summary>What to ask the registry for: the digest when there is one (it pins the content), else the tag.</summary>
    public string ManifestReference => Digest?.ToString() ?? Tag!;

    public override string ToString()
        => $"{Registry}/{Repository}" + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    public static string ApiHostOf(string registry) => registry == DockerHub ? DockerHubApiHost : registry;

    public static RegistryReference Parse(string text)
    {
        if (TryParse(text, out var reference, out var why)) return reference;
        throw new S3loException(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
            $"'{text}' is not a registry reference: {why}. Expected for example alpine, ghcr.io/org/app:v1 or localhost:5000/app@sha256:….", text);
    }

    public static bool TryParse(string? text, out RegistryReference reference) => TryParse(text, out reference, out _);

    /// <summary>
    /// Whether <paramref name="text"/> should be read as a registry reference rather than a store reference
    /// (<c>s3://</c>, <c>local://</c>, any other scheme) or a file path (rooted, relative with ./ or ../,
    /// backslashes, or an archive name). A bare word such as <c>alpine</c> is a registry reference; callers
    /// that also accept paths should check for an existing file first.
    /// </summary>
    /// <summary>The same repository at another tag (a mirror lists the tags of a repository and copies them one by one).</summary>
    public RegistryReference WithTag(string tag)
    {
        ImageName.ValidateTag(tag);
        return new RegistryReference(Registry, Repository, tag, null);
    }

    public static bool IsRegistryReference(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Contains("://", StringComparison.Ordinal)) return false;
        if (text[0] is '.' or '/' or '~' || text.Contains('\\') || Path.IsPathRooted(text)) return false;
        if (ArchiveSuffix().IsMatch(text)) return false;
        return TryParse(text, out _);
    }

    private static bool TryParse(string? text, out RegistryReference reference, out string why)
    {
        reference = null!;
        if (string.IsNullOrEmpty(text))
        {
            why = "it is empty";
            return false;
        }

        var rest = text;
        Digest? digest = null;
        var at = rest.IndexOf('@');
        if (at >= 0)
        {
            if (!Oci.Digest.TryParse(rest[(at + 1)..], out var d))
            {
                why = "the digest is not sha256: followed by 64 lowercase hex characters";
                return false;
            }
            digest = d;
            rest = rest[..at];
        }

        string? tag = null;
        var colon = rest.LastIndexOf(':');
        if (colon > rest.LastIndexOf('/'))
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!ImageName.IsValidTag(tag))
            {
                why = $"'{tag}' is not a valid tag";
                return false;
            }
        }

        var registry = DockerHub;
        var slash = rest.IndexOf('/');
        if (slash > 0)
        {
            var first = rest[..slash];
            if (first.Contains('.') || first.Contains(':') || first == "localhost")
            {
                if (!Host().IsMatch(first))
                {
                    why = $"'{first}' is not a registry host[:port]";
                    return false;
                }
                registry = first is "index.docker.io" or DockerHubApiHost ? DockerHub : first;
                rest = rest[(slash + 1)..];
            }
        }

        if (registry == DockerHub && !rest.Contains('/')) rest = "library/" + rest;
        if (rest.Length == 0 || rest.Length > ImageName.MaxNameLength || !rest.Split('/').All(c => Component().IsMatch(c)))
        {
            why = $"'{rest}' is not a valid repository (lowercase letters, digits and . _ - between them, components separated by /)";
            return false;
        }

        reference = new RegistryReference(registry, rest, tag ?? (digest is null ? DefaultTag : null), digest);
        why = "";
        return true;
    }

    [GeneratedRegex("^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex Component();

    [GeneratedRegex(@"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]{1,5})?$", RegexOptions.CultureInvariant)]
    private static partial Regex Host();

    [GeneratedRegex(@"\.(?:tar|tar\.gz|tgz|tar\.zst)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ArchiveSuffix();
}
