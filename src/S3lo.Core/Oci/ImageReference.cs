using S3lo.Core.Storage;

namespace S3lo.Core.Oci;

/// <summary>
/// An s3lo reference: a store, and optionally an image name with a tag or a digest.
/// <c>s3://bucket/org/app:v1</c>, <c>s3://bucket/app@sha256:…</c>, <c>local://./images/app:v1</c>,
/// <c>az://container/app:v1</c>, <c>local:///srv/images/app:v1</c>, or store-level <c>s3://bucket/</c> and
/// <c>local://./images/</c>. The scheme picks the store provider (<see cref="StoreProviders"/>), which reads the store part.
/// </summary>
public sealed record ImageReference
{
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

    /// <summary>The same image at another tag.</summary>
    public ImageReference WithTag(string tag) => Create(Store, RequireName("name a tag").Name, tag, null);

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

    /// <summary>Whether <paramref name="text"/> starts with the scheme of a store provider (s3://, az://, local://).</summary>
    public static bool LooksLikeReference(string? text) => StoreProviders.TryFind(text, out _, out _);

    /// <param name="context">How to resolve a written local path, and the connection settings of each provider.</param>
    public static ImageReference Parse(string text, StoreContext context)
    {
        if (!StoreProviders.TryFind(text, out var provider, out var rest))
            throw Invalid(text, $"it must start with {StoreProviders.Describe()}");
        var (store, image) = provider.ParseReference(text, rest, context);
        if (image is null) return new ImageReference(store, null, null, null);
        var (name, tag, digest) = SplitNameTagDigest(image, text);
        return Create(store, name, tag, digest);
    }

    /// <summary>A store given alone, as a reference (<c>s3://bucket</c>, with or without the trailing '/'); an image reference is refused.</summary>
    public static StoreLocation ParseStore(string text, StoreContext context)
    {
        if (!StoreProviders.TryFind(text, out var provider, out var rest))
            throw Invalid(text, $"it must start with {StoreProviders.Describe()}");
        return provider.ParseStore(text, rest, context);
    }

    /// <summary>Splits <c>name[:tag][@digest]</c>; a ':' before the last '/' belongs to the path, not to a tag.</summary>
    internal static (string Name, string? Tag, string? Digest) SplitNameTagDigest(string path, string text)
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

    internal static S3loException Invalid(string text, string why)
        => new(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
            $"'{text}' is not a valid reference: {why}. Examples: s3://bucket/app:v1, az://container/app:v1, local://./images/app:v1, s3://bucket/.", text);

    internal static S3loException NotAStore(string text)
        => new(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
            $"-Store takes a store such as s3://bucket/ or ./images, not an image reference ('{text}'); use -Name and -Tag for the image.", text);
}
