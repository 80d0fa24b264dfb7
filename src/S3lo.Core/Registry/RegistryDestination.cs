using S3lo.Core.Oci;
using S3lo.Core.Transfer;

namespace S3lo.Core.Registry;

/// <summary>
/// A registry repository as the destination of a transfer, in the order the registry needs to accept each step: the
/// blobs it lacks (asked with HEAD first), an index's child manifests by digest, and the root manifest under the
/// reference's tag (or digest) last, so the tag only appears once everything it names is there.
/// </summary>
public sealed class RegistryDestination(RegistryClient client, RegistryReference reference) : IImageDestination
{
    public string Description => reference.ToString();

    /// <summary>A registry keeps manifests apart from blobs, so an index child is asked for at the manifests endpoint.</summary>
    public Task<bool> ContainsAsync(Descriptor descriptor, CancellationToken cancellationToken)
        => MediaTypes.IsManifest(descriptor.MediaType)
            ? client.ManifestExistsAsync(reference.Repository, descriptor.Digest, cancellationToken)
            : client.BlobExistsAsync(reference.Repository, descriptor.Digest, cancellationToken);

    /// <summary>The client restarts a failed upload from the source itself, within the one attempt budget of the upload.</summary>
    public Task PutBlobAsync(Descriptor descriptor, Func<CancellationToken, Task<Stream>> open, Action<long> progress,
        CancellationToken cancellationToken)
        => client.UploadBlobAsync(reference.Repository, descriptor, open, progress, cancellationToken);

    public Task PutManifestAsync(Descriptor entry, Manifest manifest, CancellationToken cancellationToken)
        => client.PutManifestAsync(reference.Repository, manifest.Digest.ToString(), manifest, cancellationToken);

    public async Task<TransferResult> PublishAsync(ImageToPublish image, TransferResult result, CancellationToken cancellationToken)
    {
        await client.PutManifestAsync(reference.Repository, reference.Tag ?? reference.ManifestReference, image.Root, cancellationToken).ConfigureAwait(false);
        return result with { Reference = Description };
    }

    /// <summary>The client belongs to the caller, who may share it with a source.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
