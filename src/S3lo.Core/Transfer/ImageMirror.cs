using System.Runtime.CompilerServices;
using S3lo.Core.Oci;
using S3lo.Core.Registry;
using S3lo.Core.Storage;

namespace S3lo.Core.Transfer;

/// <summary>What a mirror did, or under -WhatIf would do, with one tag.</summary>
public enum MirrorAction
{
    /// <summary>The destination lacked the tag or held another digest under it; the image was copied.</summary>
    Copied,
    /// <summary>The destination already held the same digest under the tag; nothing was moved.</summary>
    Unchanged,
    /// <summary>The tag was in the destination only, and pruning removed it.</summary>
    Removed,
}

/// <summary>One tag of a mirror: what to do with it, and the digests it has on either side (null where it has none).</summary>
public sealed record MirrorStep(string Tag, MirrorAction Action, Digest? SourceDigest, Digest? DestinationDigest);

/// <summary>One side of a mirror: a repository of a registry, or one image of a store.</summary>
public interface IMirrorSide
{
    /// <summary>The reference of one tag on this side, as messages and results show it.</summary>
    string ReferenceOf(string tag);

    IAsyncEnumerable<string> ListTagsAsync(CancellationToken cancellationToken);

    /// <summary>The digest of the tag's manifest, or null when the tag is not there.</summary>
    Task<Digest?> GetDigestAsync(string tag, CancellationToken cancellationToken);
}

/// <summary>The side a mirror writes to: it can also say whether its tags are protected, and remove a tag.</summary>
public interface IMirrorDestination : IMirrorSide
{
    /// <summary>Whether the image's tags may be neither overwritten nor removed (s3lo.yaml <c>immutable</c>).</summary>
    Task<bool> IsImmutableAsync(CancellationToken cancellationToken);

    /// <summary>Removes the tag if it still holds <paramref name="digest"/>; <paramref name="digestShared"/> says that a tag to keep
    /// holds the same digest (a registry that deletes by digest must then leave it).</summary>
    Task RemoveAsync(string tag, Digest digest, bool digestShared, CancellationToken cancellationToken);
}

/// <summary>
/// Plans a mirror: every source tag that <c>include</c> takes is copied when the destination lacks it or holds another digest
/// under it, and left alone when it holds the same digest; with <c>prune</c>, destination tags that <c>include</c> takes and the
/// source no longer has are removed. Tags are compared by the digest of their manifest only, so an unchanged tag costs one
/// manifest lookup per side and moves no byte.
/// </summary>
public static class ImageMirror
{
    private const int MaxConcurrentLookups = 8;

    public static async Task<IReadOnlyList<MirrorStep>> PlanAsync(IMirrorSide source, IMirrorDestination destination, Func<string, bool> include,
        bool prune, CancellationToken cancellationToken)
    {
        var sourceTags = await DigestsAsync(source, include, cancellationToken).ConfigureAwait(false);
        var destinationTags = await DigestsAsync(destination, include, cancellationToken).ConfigureAwait(false);
        var steps = sourceTags.Select(t =>
        {
            Digest? held = destinationTags.TryGetValue(t.Key, out var digest) ? digest : null;
            return new MirrorStep(t.Key, held == t.Value ? MirrorAction.Unchanged : MirrorAction.Copied, t.Value, held);
        }).ToList();
        if (prune)
            steps.AddRange(destinationTags.Where(t => !sourceTags.ContainsKey(t.Key)).Select(t => new MirrorStep(t.Key, MirrorAction.Removed, null, t.Value)));
        return steps.OrderBy(s => s.Tag, StringComparer.Ordinal).ToList();
    }

    /// <summary>The tags of a side that <paramref name="include"/> takes, with their digests (tags that vanish meanwhile are left out).</summary>
    private static async Task<Dictionary<string, Digest>> DigestsAsync(IMirrorSide side, Func<string, bool> include, CancellationToken cancellationToken)
    {
        var tags = new List<string>();
        await foreach (var tag in side.ListTagsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (include(tag)) tags.Add(tag);
        }
        var digests = new Dictionary<string, Digest>(StringComparer.Ordinal);
        var lockObject = new object();
        await Parallel.ForEachAsync(tags.Distinct(StringComparer.Ordinal), MaxConcurrentLookups, cancellationToken, async (tag, ct) =>
        {
            if (await side.GetDigestAsync(tag, ct).ConfigureAwait(false) is not { } digest) return;
            lock (lockObject) digests[tag] = digest;
        }).ConfigureAwait(false);
        return digests;
    }
}

/// <summary>A repository of a registry as one side of a mirror.</summary>
public sealed class RegistryMirrorSide(RegistryClient client, RegistryReference repository) : IMirrorDestination
{
    public string ReferenceOf(string tag) => $"{repository.Registry}/{repository.Repository}:{tag}";

    public IAsyncEnumerable<string> ListTagsAsync(CancellationToken cancellationToken) => client.ListTagsAsync(repository.Repository, cancellationToken);

    public Task<Digest?> GetDigestAsync(string tag, CancellationToken cancellationToken)
        => client.GetManifestDigestAsync(repository.Repository, tag, cancellationToken);

    public Task<bool> IsImmutableAsync(CancellationToken cancellationToken) => Task.FromResult(false);

    public async Task RemoveAsync(string tag, Digest digest, bool digestShared, CancellationToken cancellationToken)
    {
        var current = await GetDigestAsync(tag, cancellationToken).ConfigureAwait(false);
        if (current is null) return;
        if (current != digest) throw TagChanged(ReferenceOf(tag), current.Value, digest);
        await client.DeleteTagAsync(repository.Repository, tag, digest, digestShared, cancellationToken).ConfigureAwait(false);
    }

    internal static S3loException TagChanged(string reference, Digest current, Digest planned)
        => new(ErrorIds.TagChanged, S3loErrorKind.ResourceExists,
            $"The tag {reference} now holds {current}, not {planned} as when the mirror was planned: it was pushed again meanwhile, so it is kept.", reference);
}

/// <summary>One image of a store as one side of a mirror.</summary>
public sealed class StoreMirrorSide(ImageStore store, string name) : IMirrorDestination
{
    public string ReferenceOf(string tag) => $"{store.Location}{name}:{tag}";

    public async IAsyncEnumerable<string> ListTagsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var entry in store.ListTagsAsync(name + "/", cancellationToken).ConfigureAwait(false))
        {
            if (entry.Name == name) yield return entry.Tag;
        }
    }

    public async Task<Digest?> GetDigestAsync(string tag, CancellationToken cancellationToken)
    {
        var stored = await store.Objects.GetBytesAsync(StoreLayout.ManifestKey(name, tag), Manifest.MaxBytes, cancellationToken).ConfigureAwait(false);
        return stored is null ? null : Digest.Compute(stored.Bytes);
    }

    public Task<bool> IsImmutableAsync(CancellationToken cancellationToken) => store.IsImmutableAsync(name, cancellationToken);

    public async Task RemoveAsync(string tag, Digest digest, bool digestShared, CancellationToken cancellationToken)
    {
        if (await IsImmutableAsync(cancellationToken).ConfigureAwait(false)) throw store.TagImmutable(name, tag, "removed");
        var current = await GetDigestAsync(tag, cancellationToken).ConfigureAwait(false);
        if (current is null) return;
        if (current != digest) throw RegistryMirrorSide.TagChanged(ReferenceOf(tag), current.Value, digest);
        await store.DeleteTagAsync(name, tag, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>What Sync-S3loImage did with one tag.</summary>
public sealed record MirrorResult
{
    public required string Tag { get; init; }
    public required MirrorAction Action { get; init; }
    /// <summary>The source tag's reference; null for a tag removed because the source no longer has it.</summary>
    public string? Source { get; init; }
    public required string Destination { get; init; }
    /// <summary>The digest the destination tag holds now (for a removed tag, the one it held).</summary>
    public required string Digest { get; init; }
    /// <summary>The digest the destination tag held before a copy moved it; null for a new tag and an unchanged one.</summary>
    public string? PreviousDigest { get; init; }
    public int BlobsUploaded { get; init; }
    public long BytesUploaded { get; init; }
}
