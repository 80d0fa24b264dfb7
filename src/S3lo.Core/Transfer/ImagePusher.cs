using System.Diagnostics;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Transfer;

/// <summary>What a push did.</summary>
public sealed record PushResult
{
    public required string Reference { get; init; }
    public required string Digest { get; init; }
    public required string MediaType { get; init; }
    public int BlobsUploaded { get; init; }
    public int BlobsSkipped { get; init; }
    /// <summary>Blobs deleted by a concurrent garbage collection while the push ran, and uploaded again after publishing.</summary>
    public int BlobsRestored { get; init; }
    public long BytesUploaded { get; init; }
    public long BytesTotal { get; init; }
    public TimeSpan Duration { get; init; }
}

/// <summary>
/// Pushes an image from any <see cref="IImageSource"/> into a store: every blob the root manifest reaches
/// (through index children), uploading only those the store lacks, in parallel, each verified against
/// its digest while it streams; then <c>oci-layout</c> and <c>manifest.json</c> last.
/// </summary>
public sealed class ImagePusher(ImageStore store, int maxConcurrency = 4)
{
    /// <param name="force">Overwrite the tag even when the image is immutable.</param>
    public async Task<PushResult> PushAsync(IImageSource source, ImageReference destination, bool force, IProgress<TransferProgress>? progress,
        CancellationToken cancellationToken)
    {
        destination.RequireTag("push");
        var clock = Stopwatch.StartNew();
        var root = source.Root;
        // Index children were read (and verified) by the walk; they are uploaded from memory.
        var tree = await ImageTree.WalkAsync(source, cancellationToken).ConfigureAwait(false);
        var blobs = tree.Children.Select(c => c.Entry).Concat(tree.Blobs).DistinctBy(b => b.Digest).ToList();
        var inlineManifests = tree.Children.ToDictionary(c => c.Entry.Digest, c => c.Manifest.Bytes);

        // A blob already in the store is reused, and a garbage collection running now sees it unreferenced
        // until manifest.json is published. Touching it instead of merely checking it makes it younger than
        // the grace period of any collection that starts from now on, so the blob survives the upload of the
        // others and the tag is whole when it appears. It cannot help against a collection that judged the
        // blob before the touch, or a push slower than the grace period: that is handled after publishing.
        var missing = new List<Descriptor>();
        var present = 0;
        var lockObject = new object();
        await Parallel.ForEachAsync(blobs, maxConcurrency * 2, cancellationToken, async (blob, ct) =>
        {
            var exists = await store.TouchBlobAsync(blob.Digest, ct).ConfigureAwait(false);
            lock (lockObject)
            {
                if (exists) present++;
                else missing.Add(blob);
            }
        }).ConfigureAwait(false);

        var bytesToUpload = missing.Sum(b => b.Size);
        var counter = new ByteProgress(progress, $"Pushing {destination}", $"{missing.Count} of {blobs.Count} blobs to upload", bytesToUpload);
        await UploadAsync(source, missing, inlineManifests, counter.Add, cancellationToken).ConfigureAwait(false);

        cancellationToken.ThrowIfCancellationRequested();
        await store.PublishTagAsync(destination.Name!, destination.Tag!, root, force, cancellationToken).ConfigureAwait(false);

        // A collection whose mark ran before the publish may still delete a blob it judged old: one it
        // listed before the touch above, or one whose touch or upload is more than its grace period ago.
        // Touching every blob again now makes each newer than the clock reading of any collection that
        // missed the tag (it read its clock before its mark, which was before the publish), and a
        // collection checks each candidate's age right before deleting it; a blob found missing here was
        // already deleted and is uploaded again. Checking existence alone is not enough: a collection that
        // judged the blob before this check can delete it after, as the race test shows.
        var vanished = new List<Descriptor>();
        await Parallel.ForEachAsync(blobs, maxConcurrency * 2, cancellationToken, async (blob, ct) =>
        {
            if (await store.TouchBlobAsync(blob.Digest, ct).ConfigureAwait(false)) return;
            lock (lockObject) vanished.Add(blob);
        }).ConfigureAwait(false);
        await UploadAsync(source, vanished, inlineManifests, null, cancellationToken).ConfigureAwait(false);
        return new PushResult
        {
            Reference = destination.ToString(),
            Digest = root.Digest.ToString(),
            MediaType = root.MediaType,
            BlobsUploaded = missing.Count,
            BlobsSkipped = present,
            BlobsRestored = vanished.Count,
            BytesUploaded = counter.Done,
            BytesTotal = blobs.Sum(b => b.Size),
            Duration = clock.Elapsed,
        };
    }

    private async Task UploadAsync(IImageSource source, IEnumerable<Descriptor> blobs, Dictionary<Digest, byte[]> inlineManifests,
        Action<long>? progress, CancellationToken cancellationToken)
    {
        // Largest first, so the long uploads start early and the small ones fill the gaps.
        await Parallel.ForEachAsync(blobs.OrderByDescending(b => b.Size), maxConcurrency, cancellationToken, async (blob, ct) =>
        {
            await using var content = inlineManifests.TryGetValue(blob.Digest, out var bytes)
                ? new MemoryStream(bytes, writable: false)
                : await source.OpenBlobAsync(blob, ct).ConfigureAwait(false);
            await store.PutBlobAsync(blob, content, progress, ct).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }
}
