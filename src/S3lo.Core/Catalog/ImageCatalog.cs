using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using S3lo.Core.Oci;
using S3lo.Core.Server;
using S3lo.Core.Storage;

namespace S3lo.Core.Catalog;

/// <summary>Listing, inspecting and removing the tags of a store.</summary>
public sealed class ImageCatalog(ImageStore store, int maxConcurrency = 8)
{
    // What a listing reads besides each tag's manifest (an image's platform from its config, the blobs of an index's
    // children) depends only on content-addressed, verified bytes, so it is kept for an hour, per store: listing the same
    // store again, or tags that share a config or a child, costs one read per tag (its manifest). A read in flight is
    // shared (TtlCache), so tags listed at once that share a config wait for the one read.
    private static readonly TimeSpan CacheTime = TimeSpan.FromHours(1);
    private const int MaxCachedEntries = 100_000;
    private static readonly TtlCache<(string Store, Digest Digest), Platform?> Platforms = new(CacheTime, MaxCachedEntries);
    private static readonly TtlCache<(string Store, Digest Digest), IReadOnlyList<Descriptor>> ChildReferences = new(CacheTime, MaxCachedEntries);

    /// <summary>
    /// Every tag whose name and tag pass the filters, in listing order. Manifests are read concurrently
    /// while the listing goes on, and each tag is yielded as soon as it and those before it are ready.
    /// </summary>
    /// <param name="namePrefix">A literal prefix of the names wanted, to narrow the listing.</param>
    /// <param name="onTagError">Receives a tag whose manifest cannot be read or parsed; the listing goes on
    /// without it. When null, such a tag ends the listing with its error.</param>
    public async IAsyncEnumerable<ImageInfo> ListAsync(string namePrefix, Func<string, bool> nameFilter, Func<string, bool> tagFilter,
        Action<TagEntry, S3loException>? onTagError, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pending = Channel.CreateBounded<Task<ImageInfo?>>(maxConcurrency * 4);
        using var slots = new SemaphoreSlim(maxConcurrency);
        var producer = Task.Run(async () =>
        {
            try
            {
                await foreach (var entry in store.ListTagsAsync(namePrefix, stop.Token).ConfigureAwait(false))
                {
                    if (!nameFilter(entry.Name) || !tagFilter(entry.Tag)) continue;
                    await slots.WaitAsync(stop.Token).ConfigureAwait(false);
                    var work = Task.Run(async () =>
                    {
                        try
                        {
                            return await DescribeAsync(entry, stop.Token).ConfigureAwait(false);
                        }
                        catch (S3loException e) when (onTagError is not null)
                        {
                            onTagError(entry, e);
                            return null;
                        }
                        finally
                        {
                            slots.Release();
                        }
                    }, stop.Token);
                    await pending.Writer.WriteAsync(work, stop.Token).ConfigureAwait(false);
                }
                pending.Writer.Complete();
            }
            catch (Exception e)
            {
                pending.Writer.Complete(e);
            }
        }, stop.Token);

        try
        {
            await foreach (var work in pending.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                if (await work.ConfigureAwait(false) is { } info) yield return info;
            }
            await producer.ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await producer.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Already reported through the channel, or a consequence of stopping early.
            }
        }
    }

    /// <summary>The tag's summary; null when it disappeared between the listing and the read.</summary>
    private async Task<ImageInfo?> DescribeAsync(TagEntry entry, CancellationToken cancellationToken)
    {
        var tag = await store.TryGetTagAsync(entry.Name, entry.Tag, cancellationToken).ConfigureAwait(false);
        return tag is null ? null : await DescribeAsync(tag, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ImageInfo> DescribeAsync(TagManifest tag, CancellationToken cancellationToken)
    {
        var manifest = tag.Manifest;
        var summary = ListingSummary.FromMetadata(manifest, tag.Metadata) ?? await SummarizeAsync(manifest, cancellationToken).ConfigureAwait(false);
        return new ImageInfo
        {
            Store = store.Location.ToString(),
            Name = tag.Name,
            Tag = tag.Tag,
            Reference = $"{store.Location}{tag.Name}:{tag.Tag}",
            Digest = manifest.Digest.ToString(),
            Kind = manifest.IsIndex ? ImageKind.Index : ImageKind.Image,
            MediaType = manifest.MediaType,
            Platforms = summary.Platforms,
            Size = summary.Size,
            LastModified = tag.ManifestObject.LastModified,
            Location = store.Location,
        };
    }

    /// <summary>The object metadata to store with a tag's <c>manifest.json</c> so that a listing need not read its config or
    /// its children (docs/format.md, "Listing metadata"), from the image being published: its config's verified bytes
    /// (<paramref name="readConfig"/>) and its child manifests (<paramref name="child"/>; one it lacks is read from the store).
    /// Nothing is kept: the listings it serves read the metadata instead.</summary>
    public async Task<IReadOnlyDictionary<string, string>> ListingMetadataAsync(Manifest manifest, Func<CancellationToken, Task<byte[]>> readConfig,
        Func<Digest, Manifest?> child, CancellationToken cancellationToken)
        => (await SummarizeAsync(manifest,
                async ct => ParsePlatform(await readConfig(ct).ConfigureAwait(false)),
                async (entry, ct) => child(entry.Digest)?.References.ToList() ?? await ReadReferencesAsync(entry, ct).ConfigureAwait(false),
                cancellationToken).ConfigureAwait(false))
            .ToMetadata(manifest);

    /// <summary>What a listing shows of a stored manifest, read through the caches shared by listings (the shared reads run
    /// without the caller's token, who stops waiting on its own).</summary>
    private Task<ListingSummary> SummarizeAsync(Manifest manifest, CancellationToken cancellationToken)
        => SummarizeAsync(manifest,
            ct => Platforms.GetAsync((store.Location.ToString(), manifest.Config!.Digest), _ => ReadPlatformAsync(manifest.Config!, CancellationToken.None), ct),
            (entry, ct) => ChildReferences.GetAsync((store.Location.ToString(), entry.Digest), _ => ReadReferencesAsync(entry, CancellationToken.None), ct),
            cancellationToken);

    /// <summary>What a listing shows of a manifest, from what it references: an image's config, an index's children.</summary>
    private static async Task<ListingSummary> SummarizeAsync(Manifest manifest, Func<CancellationToken, Task<Platform?>> platformOf,
        Func<Descriptor, CancellationToken, Task<IReadOnlyList<Descriptor>>> referencesOf, CancellationToken cancellationToken)
    {
        if (!manifest.IsIndex)
        {
            var platform = manifest.Config!.Size > Manifest.MaxBytes ? null : await platformOf(cancellationToken).ConfigureAwait(false);
            return new ListingSummary(platform is { } p ? [p.ToString()] : [], ListingSummary.ImageSize(manifest));
        }
        var blobs = new Dictionary<Digest, long>();
        foreach (var entry in manifest.Manifests)
        {
            blobs[entry.Digest] = entry.Size;
            if (entry.Platform is { IsAttestation: true }) continue;
            foreach (var blob in await referencesOf(entry, cancellationToken).ConfigureAwait(false)) blobs[blob.Digest] = blob.Size;
        }
        return new ListingSummary(ListingSummary.IndexPlatforms(manifest), manifest.Bytes.Length + blobs.Values.Sum());
    }

    private async Task<IReadOnlyList<Descriptor>> ReadReferencesAsync(Descriptor child, CancellationToken cancellationToken)
        => (await store.GetManifestBlobAsync(child, cancellationToken).ConfigureAwait(false)).References.ToList();

    /// <summary>The platform a stored image config declares.</summary>
    private async Task<Platform?> ReadPlatformAsync(Descriptor config, CancellationToken cancellationToken)
    {
        await using var stream = await store.OpenBlobAsync(config, cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return ParsePlatform(buffer.ToArray());
    }

    /// <summary>The platform a config's JSON declares; null when it declares none or is not JSON.</summary>
    private static Platform? ParsePlatform(byte[] config)
    {
        try
        {
            var root = JsonDocument.Parse(config).RootElement;
            string? Str(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            return Str("os") is { } os && Str("architecture") is { } arch ? new Platform(os, arch, string.IsNullOrEmpty(Str("variant")) ? null : Str("variant")) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Describes the manifest a reference names; with <paramref name="platform"/>, the index entry for it.</summary>
    public async Task<ManifestInfo> InspectAsync(ImageReference reference, Platform? platform, CancellationToken cancellationToken)
    {
        var resolved = await ImageResolver.ResolveAsync(store, reference, cancellationToken).ConfigureAwait(false);
        var manifest = resolved.Manifest;
        Platform? chosen = null;
        if (platform is not null && manifest.IsIndex)
            (manifest, chosen) = await ImageResolver.SelectPlatformAsync(store, manifest, platform, cancellationToken).ConfigureAwait(false);
        return new ManifestInfo
        {
            Reference = reference.ToString(),
            Digest = manifest.Digest.ToString(),
            MediaType = manifest.MediaType,
            Kind = manifest.IsIndex ? ImageKind.Index : ImageKind.Image,
            Platform = chosen?.ToString(),
            Config = manifest.Config is null ? null : BlobInfo.From(manifest.Config),
            Layers = manifest.Layers.Select(BlobInfo.From).ToList(),
            Manifests = manifest.Manifests.Select(m => new PlatformManifest(m.Platform?.ToString() ?? "", m.Digest.ToString(), m.Size, m.MediaType,
                m.Platform?.IsAttestation ?? false)).ToList(),
            Annotations = manifest.Annotations,
            Size = manifest.IsIndex ? manifest.Manifests.Sum(m => m.Size) : manifest.ContentSize,
            Json = manifest.Json,
        };
    }

    /// <summary>
    /// The tags a removal takes: the tag named, or for <c>name@sha256:…</c> every tag of that image whose
    /// manifest has that digest. Fails with <c>ImageNotFound</c> when there is none.
    /// </summary>
    public async Task<IReadOnlyList<ImageInfo>> FindTagsAsync(ImageReference reference, CancellationToken cancellationToken)
    {
        reference.RequireTagOrDigest("remove an image");
        if (reference.Tag is not null)
        {
            var key = StoreLayout.ManifestKey(reference.Name!, reference.Tag);
            var head = await store.Objects.HeadAsync(key, cancellationToken).ConfigureAwait(false) ?? throw ImageStore.ImageNotFound(reference.ToString());
            try
            {
                var tag = await store.GetTagAsync(reference.Name!, reference.Tag, cancellationToken).ConfigureAwait(false);
                if (reference.Digest is { } d && tag.Manifest.Digest != d) throw ImageStore.ImageNotFound(reference.ToString());
                return [await DescribeAsync(tag, cancellationToken).ConfigureAwait(false)];
            }
            catch (S3loException e) when (reference.Digest is null && (e.Kind is S3loErrorKind.InvalidData || e.ErrorId == ErrorIds.BlobNotFound))
            {
                // A tag whose manifest or config cannot be read must still be removable.
                return [Unreadable(reference.Name!, reference.Tag, head)];
            }
        }
        var found = new List<ImageInfo>();
        await foreach (var info in ListAsync(reference.Name + "/", n => n == reference.Name, _ => true, null, cancellationToken).ConfigureAwait(false))
        {
            if (info.Digest == reference.Digest.ToString()) found.Add(info);
        }
        return found.Count > 0 ? found : throw ImageStore.ImageNotFound(reference.ToString());
    }

    private ImageInfo Unreadable(string name, string tag, ObjectInfo manifest) => new()
    {
        Store = store.Location.ToString(),
        Name = name,
        Tag = tag,
        Reference = $"{store.Location}{name}:{tag}",
        Digest = "",
        Kind = ImageKind.Unknown,
        MediaType = "",
        Platforms = [],
        Size = manifest.Size,
        LastModified = manifest.LastModified,
        Location = store.Location,
    };

    /// <summary>Deletes one tag; an immutable image's tag only with <paramref name="force"/> (else <c>TagImmutable</c>).
    /// A tag that no longer holds <paramref name="image"/>'s digest, because it was pushed again since it was listed, is
    /// <c>TagChanged</c> and kept: a removal decided on a listing never removes the image that replaced the one listed.</summary>
    public async Task RemoveAsync(ImageInfo image, bool force, CancellationToken cancellationToken)
    {
        if (!force && await store.IsImmutableAsync(image.Name, cancellationToken).ConfigureAwait(false))
            throw store.TagImmutable(image.Name, image.Tag, "removed");
        if (image.Kind != ImageKind.Unknown)
        {
            var stored = await store.Objects.GetBytesAsync(StoreLayout.ManifestKey(image.Name, image.Tag), Manifest.MaxBytes, cancellationToken).ConfigureAwait(false)
                         ?? throw ImageStore.ImageNotFound(image.Reference);
            var current = Digest.Compute(stored.Bytes).ToString();
            if (current != image.Digest)
                throw new S3loException(ErrorIds.TagChanged, S3loErrorKind.ResourceExists,
                    $"The tag {image.Reference} now holds {current}, not {image.Digest} as when it was listed: it was pushed again meanwhile, so it is kept. List it again to remove it.",
                    image.Reference);
        }
        await store.DeleteTagAsync(image.Name, image.Tag, cancellationToken).ConfigureAwait(false);
    }
}
