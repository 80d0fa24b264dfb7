using System.Text;
using S3lo.Core.Oci;

namespace S3lo.Core.Signing;

/// <summary>
/// The bytes a signature covers: <c>"s3lo-signature-v2\n" + store + "/" + image + ":" + tag + "\n" + digest + "\n"</c>.
/// They bind the manifest digest to the place it is published, so a signature copied to another tag, image or store
/// does not verify there. Signer and verifier both build them from the reference; nothing is taken from the record.
/// </summary>
public static class SignaturePayload
{
    public static byte[] Build(SignedName name, Digest digest)
        => Encoding.UTF8.GetBytes($"s3lo-signature-v2\n{name.Store}/{name.Name}:{name.Tag}\n{digest}\n");
}

/// <summary>
/// A tag as a signature names it: <see cref="Store"/> is the bucket or container name, or for a local store the root
/// as written in the reference (<c>./store</c> for <c>local://./store/org/app:v1</c>), so that what s3lo and S3lo sign
/// for the same reference text is the same.
/// </summary>
public sealed record SignedName(string Store, string Name, string Tag)
{
    /// <summary>
    /// The signed name of <paramref name="reference"/> (which must have a tag). For a local store, <paramref name="written"/>
    /// is the reference as the user wrote it: its root is the text before the image, so that store + "/" + image is the
    /// path as written, whichever directory on that path holds the store. Without it, the store's absolute path.
    /// </summary>
    public static SignedName Of(ImageReference reference, string? written)
    {
        var name = reference.RequireTag("sign or verify a signature").Name!;
        var tag = reference.Tag!;
        if (reference.Store.Scheme != "local") return new SignedName(reference.Store.Root, name, tag);
        var suffix = "/" + name + ":" + tag;
        const string scheme = "local://";
        if (written is not null && written.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && written.EndsWith(suffix, StringComparison.Ordinal)
            && written.Length > scheme.Length + suffix.Length)
            return new SignedName(written[scheme.Length..^suffix.Length], name, tag);
        return new SignedName(reference.Store.Root.Replace('\\', '/'), name, tag);
    }
}
