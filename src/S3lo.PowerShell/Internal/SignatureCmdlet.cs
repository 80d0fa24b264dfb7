using System.Management.Automation;
using System.Security.Cryptography.X509Certificates;
using S3lo.Core;
using S3lo.Core.Oci;
using S3lo.Core.Signing;

namespace S3lo.PowerShell.Internal;

/// <summary>
/// Base of the signature cmdlets: the tags they act on, each with the name its signature covers (for a local store, the
/// root as the reference wrote it, as s3lo signs it), and the public keys given to judge records with.
/// </summary>
public abstract class SignatureCmdlet : ImageTargetCmdlet
{
    /// <summary>The tags this record names, with their signed names; anything malformed is a terminating error.</summary>
    protected IReadOnlyList<(ImageReference Reference, SignedName Name)> ResolveSignedTargets(string action)
    {
        var references = ResolveTargets(action);
        var written = ParameterSetName switch
        {
            InputObjectSet => InputObject.Select(i => i.Reference).ToList(),
            StoreSet => [WrittenFromParts()],
            _ => Reference.ToList(),
        };
        return OrTerminate(() => references.Select((r, i) => (r, SignedName.Of(r, i < written.Count ? written[i] : null))).ToList(),
            references.FirstOrDefault()?.ToString());
    }

    private string WrittenFromParts()
    {
        var store = Store.StartsWith("local://", StringComparison.OrdinalIgnoreCase) ? Store : "local://" + Store;
        return store.TrimEnd('/', '\\') + "/" + Name + ":" + Tag;
    }

    /// <summary>
    /// The public keys of <paramref name="paths"/> (PEM files, or KMS keys by <c>awskms:///…</c> or ARN, reached with the
    /// cmdlet's AWS parameters) and of <paramref name="certificates"/>; a key that cannot be read is a terminating error.
    /// </summary>
    protected IReadOnlyList<VerificationKey> LoadPublicKeys(IReadOnlyList<string> paths, IReadOnlyList<X509Certificate2> certificates)
    {
        var keys = new List<VerificationKey>();
        foreach (var path in paths)
        {
            if (KmsKey.IsKmsReference(path))
            {
                using var kms = OrTerminate(() => KmsKey.OpenAsync(path, S3Connection, CancellationToken.None).GetAwaiter().GetResult(), path);
                keys.Add(kms.PublicKey);
            }
            else
            {
                keys.Add(OrTerminate(() => VerificationKey.FromFile(ResolvePath(path), path), path));
            }
        }
        foreach (var certificate in certificates)
            keys.Add(OrTerminate(() => VerificationKey.FromCertificate(certificate, "x509:" + certificate.Thumbprint), certificate));
        return keys;
    }
}
