using S3lo.Core.Storage;

namespace S3lo.Core.Oci;

/// <summary>
/// An s3lo reference: a store, and optionally an image name with a tag or a digest.
/// <c>s3://bucket/org/app:v1</c>, <c>s3://bucket/app@sha256:…</c>, <c>local://./images/app:v1</c>,
/// <c>local:///srv/images/app:v1</c>, or store-level <c>s3://bucket/</c> and <c>local://./images/</c>.
/// </summary>
public sealed record ImageReference
{
    public const string S3Scheme = "s3://";
    public const string LocalScheme = "local://";

    private ImageReference(StoreLocation store, string? name, string? tag, Digest? digest)
    {
        Store = store;
        Name = name;
        Tag = tag;
        Digest = digest;
    }

    public StoreLocation Store { get; }
    public string? Name { get; }
    public string? Tag { get; }
    public Digest? Digest { get; }

    public bool IsStoreOnly => Name is null;

    public override string ToString()
        => Store + (Name ?? "") + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>Fails with <c>TagRequired</c> unless the reference names an image and a tag (no implicit latest).</summary>
    public ImageReference RequireTag(string action)
    {
        if (Name is null || Tag is null)
            throw new S3loException(ErrorIds.TagRequired, S3loErrorKind.InvalidArgument,
                $"'{this}' needs an image name and a tag to {action}, for example {Store}app:v1.", ToString());
        return this;
    }

    /// <summary>Fails with <c>InvalidReference</c> unless the reference names an image.</summary>
    public ImageReference RequireName(string action)
    {
        if (Name is null)
            throw new S3loException(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
                $"'{this}' names a store, but {action} needs an image, for example {Store}app:v1.", ToString());
        return this;
    }

    /// <summary>Fails as <see cref="RequireName"/> does, then with <c>TagRequired</c> unless the reference has a tag or a digest.</summary>
    public ImageReference RequireTagOrDigest(string action)
    {
        RequireName(action);
        return Tag is null && Digest is null ? RequireTag(action) : this;
    }

    public static ImageReference Create(StoreLocation store, string? name, string? tag, string? digest)
    {
        if (name is null)
        {
            if (tag is not null || digest is not null)
                throw new S3loException(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
                    "A tag or digest needs an image name.", tag ?? digest);
            return new ImageReference(store, null, null, null);
        }
        ImageName.ValidateName(name);
        if (tag is not null) ImageName.ValidateTag(tag);
        return new ImageReference(store, name, tag, digest is null ? null : Oci.Digest.Parse(digest));
    }

    public static bool LooksLikeReference(string? text)
        => text is not null && (text.StartsWith(S3Scheme, StringComparison.OrdinalIgnoreCase) || text.StartsWith(LocalScheme, StringComparison.OrdinalIgnoreCase));

    /// <param name="resolveLocalPath">Turns the path written in a local reference into an absolute path
    /// (the cmdlets resolve it against the PowerShell location).</param>
    public static ImageReference Parse(string text, Func<string, string> resolveLocalPath, S3ConnectionOptions? connection = null)
    {
        if (text.StartsWith(S3Scheme, StringComparison.OrdinalIgnoreCase))
        {
            var rest = text[S3Scheme.Length..];
            var slash = rest.IndexOf('/');
            var bucket = slash < 0 ? rest : rest[..slash];
            var path = slash < 0 ? "" : rest[(slash + 1)..];
            var store = StoreLocation.S3(bucket, connection);
            if (path.Length == 0) return new ImageReference(store, null, null, null);
            var (name, tag, digest) = SplitNameTagDigest(path, text);
            return Create(store, name, tag, digest);
        }
        if (text.StartsWith(LocalScheme, StringComparison.OrdinalIgnoreCase))
        {
            var path = text[LocalScheme.Length..];
            if (path.Length == 0) throw Invalid(text, "it has no path");
            if (path.EndsWith('/') || path.EndsWith('\\'))
                return new ImageReference(StoreLocation.Local(resolveLocalPath(path)), null, null, null);
            var (namePath, tag, digest) = SplitNameTagDigest(path, text);
            var absolute = resolveLocalPath(namePath);
            if (tag is null && digest is null && StoreLocation.IsLocalStoreDirectory(absolute))
                return new ImageReference(StoreLocation.Local(absolute), null, null, null);
            var (root, name) = SplitLocalStore(absolute);
            return Create(StoreLocation.Local(root), name, tag, digest);
        }
        throw Invalid(text, "it must start with s3:// or local://");
    }

    /// <summary>
    /// The store of a local reference is the deepest existing store directory above the image path
    /// (a directory holding blobs/sha256 or s3lo.yaml); when there is none yet, the image name is
    /// the last path segment. <c>-Store</c> with <c>-Name</c> states the split explicitly.
    /// </summary>
    private static (string Root, string Name) SplitLocalStore(string absolute)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(absolute));
        for (var dir = Path.GetDirectoryName(full); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (StoreLocation.IsLocalStoreDirectory(dir))
                return (dir, Path.GetRelativePath(dir, full).Replace('\\', '/'));
        }
        var parent = Path.GetDirectoryName(full) ?? throw Invalid(absolute, "it has no image name after the store path");
        return (parent, Path.GetFileName(full));
    }

    private static (string Name, string? Tag, string? Digest) SplitNameTagDigest(string path, string text)
    {
        string? digest = null;
        var at = path.IndexOf('@');
        if (at >= 0)
        {
            digest = path[(at + 1)..];
            path = path[..at];
        }
        string? tag = null;
        var colon = path.LastIndexOf(':');
        if (colon > path.LastIndexOfAny(['/', '\\']))
        {
            tag = path[(colon + 1)..];
            path = path[..colon];
            if (tag.Length == 0) throw Invalid(text, "the tag after ':' is empty");
        }
        if (path.Length == 0) throw Invalid(text, "it has no image name");
        return (path, tag, digest);
    }

    private static S3loException Invalid(string text, string why)
        => new(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
            $"'{text}' is not a valid reference: {why}. Examples: s3://bucket/app:v1, local://./images/app:v1, s3://bucket/.", text);
}
