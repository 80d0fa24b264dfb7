using System.Diagnostics;
using S3lo.Core.Formats;
using S3lo.Core.IO;
using S3lo.Core.Oci;

namespace S3lo.Core.Transfer;

public sealed record TransferOptions
{
    /// <summary>Blobs sent at once, at most; a destination may take fewer (<see cref="IConcurrencyLimitedDestination"/>).
    /// Asking the destination what it has, which moves no content, runs at twice this.</summary>
    public int MaxConcurrency { get; init; } = 4;
}

/// <summary>
/// The one routine that moves an image, from any <see cref="IImageSource"/> to any <see cref="IImageDestination"/>:
/// walk the tree under the source's root, ask the destination which blobs it has, send the rest in parallel (largest
/// first), each verified against its digest as it is read, then the index children deepest first, and publish the root
/// last. A failure before the publish leaves no new image at the destination.
/// </summary>
public static class ImageTransfer
{
    public static async Task<TransferResult> CopyAsync(IImageSource source, IImageDestination destination, TransferOptions? options,
        IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        options ??= new TransferOptions();
        var clock = Stopwatch.StartNew();
        // Index children were read (and verified) by the walk; they are sent from memory.
        var tree = await ImageTree.WalkAsync(source, cancellationToken).ConfigureAwait(false);
        var children = tree.Children;
        var childDigests = children.Select(c => c.Entry.Digest).ToHashSet();
        var blobs = tree.Blobs.Where(b => !childDigests.Contains(b.Digest)).ToList();
        var all = children.Select(c => c.Entry).Concat(blobs).ToList();

        var present = await FindPresentAsync(destination, all, options.MaxConcurrency * 2, cancellationToken).ConfigureAwait(false);
        var missingBlobs = blobs.Where(b => !present.Contains(b.Digest)).ToList();
        var missingChildren = children.Where(c => !present.Contains(c.Entry.Digest)).ToList();
        var missing = missingBlobs.Count + missingChildren.Count;
        var counter = new ByteProgress(progress, $"Copying to {destination.Description}", $"{missing} of {all.Count} blobs to upload",
            missingBlobs.Sum(b => b.Size) + missingChildren.Sum(c => c.Entry.Size));
        var concurrency = destination is IConcurrencyLimitedDestination limited
            ? Math.Min(limited.MaxConcurrentBlobWrites, options.MaxConcurrency)
            : options.MaxConcurrency;
        await PutBlobsAsync(source, destination, missingBlobs, concurrency, counter.Add, cancellationToken).ConfigureAwait(false);
        await PutManifestsAsync(destination, missingChildren, counter.Add, cancellationToken).ConfigureAwait(false);

        cancellationToken.ThrowIfCancellationRequested();
        var counted = new TransferResult
        {
            Reference = source.Description,
            Source = source.Description,
            Destination = destination.Description,
            Digest = source.Root.Digest.ToString(),
            MediaType = source.Root.MediaType,
            Platform = (source as ISelectedPlatformSource)?.SelectedPlatform?.ToString(),
            BlobsUploaded = missing,
            BlobsSkipped = all.Count - missing,
            BytesUploaded = counter.Done,
            BytesTotal = all.Sum(b => b.Size),
        };
        var result = await destination.PublishAsync(source.Root, counted, cancellationToken).ConfigureAwait(false);

        var restored = destination is IGcProtectingDestination protecting
            ? await RestoreCollectedAsync(source, protecting, blobs, children, options.MaxConcurrency, cancellationToken).ConfigureAwait(false)
            : 0;
        return result with { BlobsRestored = restored, Duration = clock.Elapsed };
    }

    private static async Task<HashSet<Digest>> FindPresentAsync(IImageDestination destination, IReadOnlyList<Descriptor> descriptors, int concurrency,
        CancellationToken cancellationToken)
    {
        var present = new HashSet<Digest>();
        await Parallel.ForEachAsync(descriptors, concurrency, cancellationToken, async (descriptor, ct) =>
        {
            if (!await destination.ContainsAsync(descriptor, ct).ConfigureAwait(false)) return;
            lock (present) present.Add(descriptor.Digest);
        }).ConfigureAwait(false);
        return present;
    }

    private static Task PutBlobsAsync(IImageSource source, IImageDestination destination, IEnumerable<Descriptor> blobs, int concurrency,
        Action<long> progress, CancellationToken cancellationToken)
        // Largest first, so the long transfers start early and the small ones fill the gaps.
        => Parallel.ForEachAsync(blobs.OrderByDescending(b => b.Size), concurrency, cancellationToken,
            async (blob, ct) => await PutBlobAsync(source, destination, blob, progress, ct).ConfigureAwait(false));

    private static async Task PutBlobAsync(IImageSource source, IImageDestination destination, Descriptor blob, Action<long> progress,
        CancellationToken cancellationToken)
    {
        var opened = new List<VerifyingReadStream>();
        async Task<Stream> OpenAsync(CancellationToken ct)
        {
            var raw = await source.OpenBlobAsync(blob, ct).ConfigureAwait(false);
            var verified = new VerifyingReadStream(raw, blob.Digest, blob.Size, $"blob {blob.Digest} in {source.Description}");
            lock (opened) opened.Add(verified);
            return verified;
        }

        try
        {
            await destination.PutBlobAsync(blob, OpenAsync, progress, cancellationToken).ConfigureAwait(false);
            VerifyingReadStream last;
            lock (opened) last = opened.Count > 0 ? opened[^1] : throw new InvalidOperationException($"{destination.Description} accepted {blob.Digest} without reading it.");
            // Every destination reads to the end before it accepts a blob; reading on here makes sure the check ran.
            await last.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var stream in opened) await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Deepest first: a registry refuses an index whose children it does not have (the walk lists a child before its own).</summary>
    private static async Task PutManifestsAsync(IImageDestination destination, IReadOnlyList<ChildManifest> children, Action<long>? progress,
        CancellationToken cancellationToken)
    {
        for (var i = children.Count - 1; i >= 0; i--)
        {
            await destination.PutManifestAsync(children[i].Entry, children[i].Manifest, cancellationToken).ConfigureAwait(false);
            progress?.Invoke(children[i].Entry.Size);
        }
    }

    /// <summary>
    /// A collection whose mark ran before the publish may still delete a blob it judged old: one it listed before the
    /// destination's check touched it, or one whose touch or upload is more than its grace period ago. Refreshing every
    /// blob now makes each newer than the clock reading of any collection that missed the tag (it read its clock before
    /// its mark, which was before the publish), and a collection checks each candidate's age right before deleting it; a
    /// blob found missing here was already deleted and is sent again. Checking existence alone is not enough: a collection
    /// that judged the blob before this check can delete it after, as the race test shows.
    /// </summary>
    private static async Task<int> RestoreCollectedAsync(IImageSource source, IGcProtectingDestination destination, IReadOnlyList<Descriptor> blobs,
        IReadOnlyList<ChildManifest> children, int concurrency, CancellationToken cancellationToken)
    {
        var vanished = new HashSet<Digest>();
        await Parallel.ForEachAsync(children.Select(c => c.Entry).Concat(blobs), concurrency * 2, cancellationToken, async (descriptor, ct) =>
        {
            if (await destination.RefreshAsync(descriptor, ct).ConfigureAwait(false)) return;
            lock (vanished) vanished.Add(descriptor.Digest);
        }).ConfigureAwait(false);
        if (vanished.Count == 0) return 0;
        await PutBlobsAsync(source, destination, blobs.Where(b => vanished.Contains(b.Digest)), concurrency, _ => { }, cancellationToken).ConfigureAwait(false);
        await PutManifestsAsync(destination, children.Where(c => vanished.Contains(c.Entry.Digest)).ToList(), null, cancellationToken).ConfigureAwait(false);
        return vanished.Count;
    }
}
