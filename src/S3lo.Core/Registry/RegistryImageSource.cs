using S3lo.Core.Formats;
using S3lo.Core.Oci;

namespace S3lo.Core.Registry;

/// <summary>
/// An image in a registry as the source of a transfer: the root manifest as the registry serves it (an index verbatim, with
/// all its platforms), or one platform's manifest when a platform is asked for. Child manifests and blobs are
/// fetched on demand.
/// </summary>
public sealed class RegistryImageSource : ISelectedPlatformSource
{
    private readonly RegistryClient _client;
    private readonly RegistryReference _reference;

    private RegistryImageSource(RegistryClient client, RegistryReference reference, Manifest root, Platform? selectedPlatform)
    {
        _client = client;
        _reference = reference;
        Root = root;
        SelectedPlatform = selectedPlatform;
    }

    public string Description => _reference.ToString();
    public Manifest Root { get; }
    public Platform? SelectedPlatform { get; }

    /// <param name="platform">When the reference names an index, take only this platform's manifest as the root; an image
    /// manifest is taken as it is.</param>
    public static async Task<RegistryImageSource> OpenAsync(RegistryClient client, RegistryReference reference, Platform? platform,
        CancellationToken cancellationToken)
    {
        var root = await client.GetManifestAsync(reference.Repository, reference.ManifestReference, cancellationToken).ConfigureAwait(false);
        if (platform is null || !root.IsIndex) return new RegistryImageSource(client, reference, root, null);
        var chosen = root.SelectPlatform(platform);
        var child = await client.GetManifestAsync(reference.Repository, chosen.Digest.ToString(), cancellationToken).ConfigureAwait(false);
        return new RegistryImageSource(client, reference, child, chosen.Platform);
    }

    public async Task<Stream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken)
    {
        // Registries serve manifests only from the manifests endpoint, whatever a blob request would find.
        if (MediaTypes.IsManifest(descriptor.MediaType))
        {
            var manifest = await _client.GetManifestAsync(_reference.Repository, descriptor.Digest.ToString(), cancellationToken).ConfigureAwait(false);
            return new MemoryStream(manifest.Bytes, writable: false);
        }
        return await _client.OpenBlobAsync(_reference.Repository, descriptor, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The client belongs to the caller, who may share it between sources.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
