using S3lo.Core.Oci;
using S3lo.Core.Signing;
using S3lo.Core.Storage;

namespace S3lo.Core.Server;

/// <summary>
/// What a server that requires signatures may serve: a tag whose current manifest one of the keys signed, that manifest
/// by digest, the children of such an index, and the blobs these images reference. A verdict is kept for the cache period under the tag,
/// the manifest digest and the keys together, so a tag pushed again (another digest) is judged anew.
/// </summary>
internal sealed class SignatureGate(ImageStore store, string signedStore, IReadOnlyList<VerificationKey> keys, TimeSpan ttl)
{
    private readonly TtlCache<(string Name, string Tag, Digest Digest, string Keys), bool> _verdicts = new(ttl);
    private readonly string _keyIds = string.Join(",", keys.Select(k => k.KeyId).Order(StringComparer.Ordinal));

    /// <summary>Whether <paramref name="digest"/> may be served, asked by <paramref name="tag"/> (null when asked by digest).</summary>
    public async Task<bool> AllowsAsync(RepositoryView view, string name, string? tag, Digest digest, CancellationToken cancellationToken)
    {
        if (tag is not null) return await IsSignedAsync(name, tag, digest, cancellationToken).ConfigureAwait(false);
        foreach (var (candidate, manifest) in view.ByTag)
        {
            var holds = manifest.Digest == digest || manifest.Manifests.Any(m => m.Digest == digest);
            if (holds && await IsSignedAsync(name, candidate, manifest.Digest, cancellationToken).ConfigureAwait(false)) return true;
        }
        return false;
    }

    /// <summary>Whether a blob (a config, a layer, an index child) may be served: one signed tag's image references it.</summary>
    public async Task<bool> AllowsBlobAsync(RepositoryView view, string name, Digest digest, CancellationToken cancellationToken)
    {
        foreach (var (tag, manifest) in view.ByTag)
        {
            if (References(view, manifest).Contains(digest) && await IsSignedAsync(name, tag, manifest.Digest, cancellationToken).ConfigureAwait(false))
                return true;
        }
        return false;
    }

    /// <summary>What a tag's manifest references: its config and layers, or for an index its children and theirs.</summary>
    private static IEnumerable<Digest> References(RepositoryView view, Manifest manifest)
        => manifest.References.SelectMany(d => view.ByDigest.TryGetValue(d.Digest, out var child) && child != manifest
            ? child.References.Select(c => c.Digest).Prepend(d.Digest)
            : [d.Digest]);

    private Task<bool> IsSignedAsync(string name, string tag, Digest digest, CancellationToken cancellationToken)
        => _verdicts.GetAsync((name, tag, digest, _keyIds),
            k => new ImageSignatures(store).IsSignedAsync(new SignedName(signedStore, k.Name, k.Tag), k.Digest, keys, CancellationToken.None), cancellationToken);
}
