using System.Management.Automation;
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
}
