using System.Diagnostics;
using S3lo.Core.Formats;
using S3lo.Core.IO;
using S3lo.Core.Oci;
using S3lo.Core.Transfer;

namespace S3lo.Core.Registry;

/// <summary>
/// Pushes any <see cref="IImageSource"/> to a registry in the order the registry needs to accept each step: the
/// blobs it lacks (asked with HEAD first), then an index's child manifests by digest, then the root manifest under
/// the destination's tag (or digest), so the tag only appears once everything it names is there.
/// </summary>
public static class RegistryPusher
{
    private const int MaxUploadAttempts = 4;

    public static async Task<PushResult> PushAsync(RegistryClient client, RegistryReference destination, IImageSource source,
        IProgress<TransferProgress>? progress, CancellationToken cancellationToken, int maxConcurrency = 4)
    {
        var clock = Stopwatch.StartNew();
        var repository = destination.Repository;
        var tree = await ImageTree.WalkAsync(source, cancellationToken).ConfigureAwait(false);
        var blobs = tree.Blobs;
        var children = tree.Children;

        var missing = new List<Descriptor>();
        var lockObject = new object();
        await Transfer.Parallel.ForEachAsync(blobs, maxConcurrency * 2, cancellationToken, async (blob, ct) =>
        {
            if (await client.BlobExistsAsync(repository, blob.Digest, ct).ConfigureAwait(false)) return;
            lock (lockObject) missing.Add(blob);
        }).ConfigureAwait(false);

        var bytesToUpload = missing.Sum(b => b.Size);
        var counter = new ByteProgress(progress, $"Pushing {destination}", $"{missing.Count} of {blobs.Count} blobs to upload", bytesToUpload);
        await Transfer.Parallel.ForEachAsync(missing.OrderByDescending(b => b.Size), maxConcurrency, cancellationToken, async (blob, ct) =>
        {
            // The client cannot replay an upload it streams from the source, so a failed one starts over here.
            for (var attempt = 1; ; attempt++)
            {
                long sent = 0;
                try
                {
                    await using var raw = await source.OpenBlobAsync(blob, ct).ConfigureAwait(false);
                    await using var verified = new VerifyingReadStream(raw, blob.Digest, blob.Size, $"blob {blob.Digest} in {source.Description}");
                    await using var counted = new CountingReadStream(verified, n =>
                    {
                        sent += n;
                        counter.Add(n);
                    });
                    await client.UploadBlobAsync(repository, blob, counted, ct).ConfigureAwait(false);
                    break;
                }
                catch (S3loException e) when (attempt < MaxUploadAttempts && e.ErrorId is ErrorIds.RegistryError or ErrorIds.RegistryUnreachable)
                {
                    counter.Add(-sent);
                    await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt), ct).ConfigureAwait(false);
                }
            }
        }).ConfigureAwait(false);

        // Deepest first: a registry refuses an index whose children it does not have.
        for (var i = children.Count - 1; i >= 0; i--)
            await client.PutManifestAsync(repository, children[i].Manifest.Digest.ToString(), children[i].Manifest, cancellationToken).ConfigureAwait(false);
        await client.PutManifestAsync(repository, destination.Tag ?? destination.ManifestReference, source.Root, cancellationToken).ConfigureAwait(false);

        return new PushResult
        {
            Reference = destination.ToString(),
            Digest = source.Root.Digest.ToString(),
            MediaType = source.Root.MediaType,
            BlobsUploaded = missing.Count,
            BlobsSkipped = blobs.Count - missing.Count,
            BytesUploaded = counter.Done,
            BytesTotal = blobs.Sum(b => b.Size),
            Duration = clock.Elapsed,
        };
    }
}
