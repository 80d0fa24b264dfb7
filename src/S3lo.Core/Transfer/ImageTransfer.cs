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
        var childDigests = tree.Children.Select(c => c.Entry.Digest).ToHashSet();
        var allBlobs = tree.Blobs.Where(b => !childDigests.Contains(b.Digest)).ToList();

        // A destination that stores layers its own way takes every tar layer whose diff_id the configs give.
        var layering = destination is ILayerStoringDestination taker && await taker.TakesLayersAsync(cancellationToken).ConfigureAwait(false) ? taker : null;
        var diffIds = layering is null
            ? []
            : await ManifestRewriter.ReadDiffIdsAsync(source, tree.Children.Select(c => c.Manifest).Prepend(source.Root), cancellationToken).ConfigureAwait(false);
        var layers = allBlobs.Where(b => diffIds.ContainsKey(b.Digest)).Select(b => new LayerToStore(b, diffIds[b.Digest], source)).ToList();
        var blobs = allBlobs.Where(b => !diffIds.ContainsKey(b.Digest)).ToList();

        var found = new Dictionary<Digest, StoredLayer>();
        await Parallel.ForEachAsync(layers, options.MaxConcurrency * 2, cancellationToken, async (layer, ct) =>
        {
            if (await layering!.FindLayerAsync(layer, ct).ConfigureAwait(false) is not { } stored) return;
            lock (found) found[layer.Descriptor.Digest] = stored;
        }).ConfigureAwait(false);
        var missingLayers = layers.Where(l => !found.ContainsKey(l.Descriptor.Digest)).ToList();
        var present = await FindPresentAsync(destination, blobs, options.MaxConcurrency * 2, cancellationToken).ConfigureAwait(false);
        var missingBlobs = blobs.Where(b => !present.Contains(b.Digest)).ToList();

        var counter = new ByteProgress(progress, $"Copying to {destination.Description}",
            $"{missingBlobs.Count + missingLayers.Count} of {allBlobs.Count + tree.Children.Count} blobs to upload",
            missingBlobs.Sum(b => b.Size) + missingLayers.Sum(l => l.Descriptor.Size) + tree.Children.Sum(c => c.Entry.Size));
        var concurrency = destination is IConcurrencyLimitedDestination limited
            ? Math.Min(limited.MaxConcurrentBlobWrites, options.MaxConcurrency)
            : options.MaxConcurrency;
        var storedLayers = await StoreLayersAsync(layering, missingLayers, concurrency, counter.Add, cancellationToken).ConfigureAwait(false);
        foreach (var (digest, stored) in found) storedLayers[digest] = stored;
        await PutBlobsAsync(source, destination, missingBlobs, concurrency, counter.Add, cancellationToken).ConfigureAwait(false);

        // Layers stored under other descriptors change the manifests naming them, and the indexes above those.
        var (root, children) = Rewrite(source.Root, tree.Children, storedLayers);
        var presentChildren = await FindPresentAsync(destination, children.Select(c => c.Entry).ToList(), options.MaxConcurrency * 2, cancellationToken)
            .ConfigureAwait(false);
        var missingChildren = children.Where(c => !presentChildren.Contains(c.Entry.Digest)).ToList();
        await PutManifestsAsync(destination, missingChildren, counter.Add, cancellationToken).ConfigureAwait(false);

        cancellationToken.ThrowIfCancellationRequested();
        var chunks = storedLayers.Values.Aggregate(Chunking.ChunkedLayerStats.None, (sum, l) => sum.Add(l.Chunks));
        var wholeBytes = missingBlobs.Sum(b => b.Size) + missingChildren.Sum(c => c.Entry.Size);
        var counted = new TransferResult
        {
            Reference = source.Description,
            Source = source.Description,
            Destination = destination.Description,
            Digest = root.Digest.ToString(),
            MediaType = root.MediaType,
            Platform = (source as ISelectedPlatformSource)?.SelectedPlatform?.ToString(),
            BlobsUploaded = missingBlobs.Count + missingLayers.Count + missingChildren.Count,
            BlobsSkipped = present.Count + found.Count + presentChildren.Count,
            BytesUploaded = layering is null ? counter.Done : wholeBytes + missingLayers.Sum(l => storedLayers[l.Descriptor.Digest].BytesUploaded),
            BytesTotal = blobs.Sum(b => b.Size) + layers.Sum(l => storedLayers[l.Descriptor.Digest].Descriptor.Size) + children.Sum(c => c.Entry.Size),
            ChunksUploaded = chunks.ChunksUploaded,
            ChunksReused = chunks.ChunksReused,
            BytesBeforeCompression = chunks.RawBytes,
            BytesAfterCompression = chunks.CompressedBytes,
        };
        var result = await destination.PublishAsync(new ImageToPublish(root, children, source), counted, cancellationToken).ConfigureAwait(false);

        var restored = destination is IGcProtectingDestination protecting
            ? await RestoreCollectedAsync(source, protecting, blobs, children, layers, storedLayers, options.MaxConcurrency, cancellationToken)
                .ConfigureAwait(false)
            : 0;
        return result with { BlobsRestored = restored, Duration = clock.Elapsed };
    }

    private static async Task<Dictionary<Digest, StoredLayer>> StoreLayersAsync(ILayerStoringDestination? destination, IReadOnlyList<LayerToStore> layers,
        int concurrency, Action<long> progress, CancellationToken cancellationToken)
    {
        var stored = new Dictionary<Digest, StoredLayer>();
        if (destination is null) return stored;
        await Parallel.ForEachAsync(layers.OrderByDescending(l => l.Descriptor.Size), concurrency, cancellationToken, async (layer, ct) =>
        {
            var result = await StoreLayerAsync(destination, layer, progress, ct).ConfigureAwait(false);
            lock (stored) stored[layer.Descriptor.Digest] = result;
        }).ConfigureAwait(false);
        return stored;
    }

    private static async Task<StoredLayer> StoreLayerAsync(ILayerStoringDestination destination, LayerToStore layer, Action<long> progress,
        CancellationToken cancellationToken)
    {
        var blob = layer.Descriptor;
        var opened = new List<VerifyingReadStream>();
        async Task<Stream> OpenAsync(CancellationToken ct)
        {
            var raw = await layer.Source.OpenBlobAsync(blob, ct).ConfigureAwait(false);
            var verified = new VerifyingReadStream(raw, blob.Digest, blob.Size, $"blob {blob.Digest} in {layer.Source.Description}");
            lock (opened) opened.Add(verified);
            return verified;
        }

        try
        {
            var stored = await destination.StoreLayerAsync(layer, OpenAsync, progress, cancellationToken).ConfigureAwait(false);
            VerifyingReadStream? last;
            lock (opened) last = opened.Count > 0 ? opened[^1] : null;
            // A layer moved in a form the source holds it in (chunks) is verified piece by piece instead of as one stream.
            if (last is not null) await last.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
            return stored;
        }
        finally
        {
            foreach (var stream in opened) await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The root and the index children with the stored layers' descriptors put in, children deepest last as the
    /// walk lists them; documents that name nothing replaced stay as they are.</summary>
    private static (Manifest Root, IReadOnlyList<ChildManifest> Children) Rewrite(Manifest root, IReadOnlyList<ChildManifest> children,
        IReadOnlyDictionary<Digest, StoredLayer> layers)
    {
        var replaced = layers.Where(l => l.Key != l.Value.Descriptor.Digest).ToDictionary(l => l.Key, l => l.Value.Descriptor);
        if (replaced.Count == 0) return (root, children);
        var rewritten = new ChildManifest[children.Count];
        for (var i = children.Count - 1; i >= 0; i--)
        {
            var (entry, manifest) = children[i];
            var updated = ManifestRewriter.Rewrite(manifest, replaced);
            var newEntry = updated == manifest ? entry : entry with { MediaType = updated.MediaType, Digest = updated.Digest, Size = updated.Bytes.Length };
            if (updated != manifest) replaced[entry.Digest] = newEntry;
            rewritten[i] = new ChildManifest(newEntry, updated);
        }
        return (ManifestRewriter.Rewrite(root, replaced), rewritten.DistinctBy(c => c.Entry.Digest).ToList());
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
        IReadOnlyList<ChildManifest> children, IReadOnlyList<LayerToStore> layers, IReadOnlyDictionary<Digest, StoredLayer> storedLayers, int concurrency,
        CancellationToken cancellationToken)
    {
        var vanished = new HashSet<Digest>();
        var refreshed = children.Select(c => c.Entry).Concat(blobs).Concat(layers.Select(l => storedLayers[l.Descriptor.Digest].Descriptor));
        await Parallel.ForEachAsync(refreshed, concurrency * 2, cancellationToken, async (descriptor, ct) =>
        {
            if (await destination.RefreshAsync(descriptor, ct).ConfigureAwait(false)) return;
            lock (vanished) vanished.Add(descriptor.Digest);
        }).ConfigureAwait(false);
        if (vanished.Count == 0) return 0;
        await PutBlobsAsync(source, destination, blobs.Where(b => vanished.Contains(b.Digest)), concurrency, _ => { }, cancellationToken).ConfigureAwait(false);
        var lost = layers.Where(l => vanished.Contains(storedLayers[l.Descriptor.Digest].Descriptor.Digest)).ToList();
        var again = await StoreLayersAsync(destination as ILayerStoringDestination, lost, concurrency, _ => { }, cancellationToken).ConfigureAwait(false);
        // The tag names the layer by the digest it had; stored again it must come out the same (its chunks are compressed alike).
        foreach (var layer in lost)
        {
            if (again[layer.Descriptor.Digest].Descriptor.Digest != storedLayers[layer.Descriptor.Digest].Descriptor.Digest)
                throw new S3loException(ErrorIds.BlobNotFound, S3loErrorKind.NotFound,
                    $"A garbage collection deleted parts of the layer {storedLayers[layer.Descriptor.Digest].Descriptor.Digest} of {destination.Description} while it was pushed, and stored again it has another digest; push the image again.",
                    layer.Descriptor.Digest.ToString());
        }
        await PutManifestsAsync(destination, children.Where(c => vanished.Contains(c.Entry.Digest)).ToList(), null, cancellationToken).ConfigureAwait(false);
        return vanished.Count;
    }
}
