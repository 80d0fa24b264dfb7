using System.Runtime.CompilerServices;
using S3lo.Core.Storage;

namespace S3lo.Core.Gc;

/// <summary>
/// Removes the objects no tag reaches (docs/format.md, "Garbage collection"). Mark: every tag's
/// <c>manifest.json</c>, the index children under it, each manifest's config and layers, and for a
/// chunked layer its recipe, file index, chunks and S3lo's <c>layers/</c> entry. Sweep: unmarked objects under <c>blobs/</c>,
/// <c>recipes/</c>, <c>indexes/</c>, <c>chunks/</c> and <c>layers/</c> older than the grace period by the store's clock, then the
/// unfinished writes (<see cref="IIncompleteWrites"/>) older than it. The recipes are swept before what they name, and every
/// recipe left then protects its file index, chunks and layer entry (<see cref="MarkSet.MarkKeptRecipesAsync"/>).
/// A tag whose manifests cannot be read stops the collection, since what it references is unknown.
/// Memory grows with the number of referenced digests and tags, never with the listing.
/// </summary>
public sealed class GarbageCollector(ImageStore store)
{
    internal static readonly string[] SweptPrefixes =
        [StoreLayout.BlobsPrefix, StoreLayout.RecipesPrefix, StoreLayout.IndexesPrefix, StoreLayout.ChunksPrefix, StoreLayout.LayersPrefix];

    /// <summary>Yields each object as its batch is removed (with WhatIf: as it would be).</summary>
    public async IAsyncEnumerable<SweptBlob> CollectAsync(GcOptions options, IProgress<GcProgress>? progress,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.GracePeriod, TimeSpan.Zero, nameof(options.GracePeriod));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.DeleteBatchSize, 1, nameof(options.DeleteBatchSize));

        // Read before marking: an object the mark might miss (its tag published later) was written or
        // touched after this instant, so it is younger than the cutoff.
        var cutoff = await store.Objects.GetClockAsync(cancellationToken).ConfigureAwait(false) - options.GracePeriod;
        var marks = new MarkSet(store, progress);
        await marks.ListRecipesAsync(cancellationToken).ConfigureAwait(false);
        await marks.MarkNewTagsAsync(cancellationToken).ConfigureAwait(false);

        long scanned = 0, swept = 0, bytes = 0, recent = 0;
        var batch = new List<ObjectInfo>(Math.Min(options.DeleteBatchSize, 1000));
        var sweptRecipes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var prefix in SweptPrefixes)
        {
            if (prefix == StoreLayout.IndexesPrefix)
            {
                // Recipes are swept first; those left protect what they name from the rest of the sweep.
                await foreach (var blob in FlushAsync().ConfigureAwait(false)) yield return blob;
                await marks.MarkKeptRecipesAsync(sweptRecipes, cancellationToken).ConfigureAwait(false);
            }
            await foreach (var candidate in store.Objects.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            {
                if (++scanned % 1000 == 0) progress?.Report(new GcProgress(GcPhase.Sweeping, marks.TagCount, scanned, swept, bytes, recent));
                if (!IsContentKey(candidate.Key, prefix) || marks.IsMarked(candidate.Key)) continue;
                if (candidate.LastModified >= cutoff)
                {
                    recent++;
                    continue;
                }
                batch.Add(candidate);
                if (batch.Count < options.DeleteBatchSize) continue;
                await foreach (var blob in FlushAsync().ConfigureAwait(false)) yield return blob;
            }
        }
        await foreach (var blob in FlushAsync().ConfigureAwait(false)) yield return blob;
        if (store.Objects is IIncompleteWrites incomplete)
        {
            await foreach (var write in incomplete.ListIncompleteWritesAsync(cancellationToken).ConfigureAwait(false))
            {
                if (write.Started >= cutoff) continue;
                if (!options.WhatIf && !await incomplete.AbortIncompleteWriteAsync(write, cancellationToken).ConfigureAwait(false)) continue;
                swept++;
                bytes += write.Size;
                yield return new SweptBlob(write.Key, DigestIn(write.Key), write.Size, write.Started, !options.WhatIf, SweptKind.IncompleteWrite);
            }
        }
        progress?.Report(new GcProgress(GcPhase.Sweeping, marks.TagCount, scanned, swept, bytes, recent));

        // Sweeps the batch and empties it, counting what went.
        async IAsyncEnumerable<SweptBlob> FlushAsync()
        {
            foreach (var blob in await SweepAsync(batch, marks, cutoff, options.WhatIf, cancellationToken).ConfigureAwait(false))
            {
                if (blob.Key.StartsWith(StoreLayout.RecipesPrefix, StringComparison.Ordinal)) sweptRecipes.Add(blob.Key);
                swept++;
                bytes += blob.Size;
                yield return blob;
            }
            batch.Clear();
        }
    }

    /// <summary>
    /// Deletes one batch of candidates after judging them once more, as late as possible, because a push may have reused
    /// one since the listing: the tags published since the mark are marked, each remaining candidate is looked at again
    /// (HEAD), and the store deletes those still older than the cutoff only if they are still the version judged, which
    /// spares a blob a push touches in between (pushes touch their blobs again after publishing, so a push this marking
    /// missed is caught there).
    /// </summary>
    private async Task<IEnumerable<SweptBlob>> SweepAsync(List<ObjectInfo> batch, MarkSet marks, DateTimeOffset cutoff, bool whatIf,
        CancellationToken cancellationToken)
    {
        if (batch.Count == 0) return [];
        await marks.MarkNewTagsAsync(cancellationToken).ConfigureAwait(false);
        var unmarked = batch.Where(o => !marks.IsMarked(o.Key)).ToList();
        IReadOnlyList<ObjectInfo> gone = unmarked;
        if (!whatIf && unmarked.Count > 0)
        {
            var current = new ObjectInfo?[unmarked.Count];
            await Parallel.ForEachAsync(unmarked.Select((o, i) => (o.Key, i)),
                new ParallelOptions { MaxDegreeOfParallelism = ParallelJudgements, CancellationToken = cancellationToken },
                async (item, ct) => current[item.i] = await store.Objects.HeadAsync(item.Key, ct).ConfigureAwait(false)).ConfigureAwait(false);
            var judged = current.OfType<ObjectInfo>().Where(o => o.LastModified < cutoff).ToList();
            gone = judged.Count == 0 ? [] : await store.Objects.DeleteIfUnchangedAsync(judged, cancellationToken).ConfigureAwait(false);
        }
        return gone.Select(o => new SweptBlob(o.Key, DigestIn(o.Key), o.Size, o.LastModified, !whatIf));
    }

    private static string DigestIn(string key)
    {
        var prefix = SweptPrefixes.FirstOrDefault(p => key.StartsWith(p, StringComparison.Ordinal));
        return prefix is not null && IsContentKey(key, prefix) ? "sha256:" + key[prefix.Length..] : "";
    }

    private const int ParallelJudgements = 16;

    /// <summary>Only keys of the form <c>&lt;prefix&gt;&lt;64 lowercase hex&gt;</c> are content; anything else is not ours to judge.</summary>
    internal static bool IsContentKey(string key, string prefix)
        => key.Length == prefix.Length + 64 && key.AsSpan(prefix.Length).IndexOfAnyExcept("0123456789abcdef") < 0;
}
