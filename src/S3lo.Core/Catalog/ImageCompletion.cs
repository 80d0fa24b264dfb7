using S3lo.Core.Server;
using S3lo.Core.Storage;

namespace S3lo.Core.Catalog;

/// <summary>
/// What tab completion offers from a store: image names, the tags of an image, the platforms of an index. A completer
/// must answer at once, so every answer comes within <see cref="Patience"/> or is empty, and a store's listing is kept
/// for <see cref="CacheTime"/>: the next Tab press is served from it, including a listing that took longer than one
/// press would wait. A store that cannot be reached, or refuses, yields nothing; nothing here throws.
/// </summary>
public static class ImageCompletion
{
    /// <summary>How long one completion waits for a store.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(2);

    public static readonly TimeSpan CacheTime = TimeSpan.FromMinutes(1);

    /// <summary>How long a listing or a manifest read may run in the background to fill the cache.</summary>
    private static readonly TimeSpan LoadLimit = TimeSpan.FromSeconds(20);

    /// <summary>A store with more tags than this is completed from its first ones only.</summary>
    private const int MaxTags = 20_000;

    private static readonly TtlCache<StoreLocation, IReadOnlyList<(string Name, string Tag)>> Listings = new(CacheTime, 64);
    private static readonly TtlCache<(StoreLocation Store, string Name, string Tag), IReadOnlyList<string>> Platforms = new(CacheTime, 256);

    /// <summary>The image names of <paramref name="store"/> that start with <paramref name="prefix"/>, in order.</summary>
    public static async Task<IReadOnlyList<string>> NamesAsync(StoreLocation store, string prefix, CancellationToken cancellationToken = default)
        => (await ListingAsync(store, cancellationToken).ConfigureAwait(false))
            .Select(t => t.Name).Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal).ToList();

    /// <summary>The tags of image <paramref name="name"/> that start with <paramref name="prefix"/>, in order.</summary>
    public static async Task<IReadOnlyList<string>> TagsAsync(StoreLocation store, string name, string prefix, CancellationToken cancellationToken = default)
        => (await ListingAsync(store, cancellationToken).ConfigureAwait(false))
            .Where(t => t.Name == name && t.Tag.StartsWith(prefix, StringComparison.Ordinal)).Select(t => t.Tag)
            .Order(StringComparer.Ordinal).ToList();

    /// <summary>The platforms of the index tagged <paramref name="name"/>:<paramref name="tag"/> (attestations left out);
    /// none for a single image, which has nothing to choose from.</summary>
    public static Task<IReadOnlyList<string>> PlatformsAsync(StoreLocation store, string name, string tag, CancellationToken cancellationToken = default)
        => Bounded(Platforms.GetAsync((store, name, tag), async key =>
        {
            using var limit = new CancellationTokenSource(LoadLimit);
            await using var images = await ImageStore.OpenAsync(key.Store, limit.Token).ConfigureAwait(false);
            var found = await images.TryGetTagAsync(key.Name, key.Tag, limit.Token).ConfigureAwait(false);
            IReadOnlyList<string> platforms = found is { Manifest.IsIndex: true }
                ? found.Manifest.Platforms.Select(p => p.ToString()).Distinct(StringComparer.Ordinal).ToList()
                : [];
            return platforms;
        }, cancellationToken));

    /// <summary>
    /// Image references that complete <paramref name="partial"/>, a reference being typed: after the store
    /// (<c>s3://bucket/</c>, <c>az://container/</c>, <c>local://./store/</c>) the image names, after <c>name:</c> its tags.
    /// Each comes back as the whole reference, written with the store as typed.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ReferencesAsync(string partial, StoreContext context, CancellationToken cancellationToken = default)
    {
        // A tag being typed may be empty (name:), which is no reference yet: the store and name are read without it.
        var lastColon = partial.LastIndexOf(':');
        var tagTyped = lastColon > partial.LastIndexOf('/') ? partial[(lastColon + 1)..] : null;
        var head = tagTyped is null ? partial : partial[..lastColon];
        StoreLocation store;
        string image;
        try
        {
            // A name cannot end with '/', so one that does (team/) is read with a placeholder for the part not typed yet.
            var probe = head.EndsWith('/') && head.Length > head.IndexOf("://", StringComparison.Ordinal) + 3 ? head + "x" : head;
            if (!StoreProviders.TryFind(probe, out var provider, out var rest)) return [];
            (store, var typed) = provider.ParseReference(probe, rest, context);
            image = typed ?? "";
            if (probe.Length > head.Length) image = image.EndsWith('x') ? image[..^1] : "";
        }
        catch (Exception e) when (e is S3loException or ArgumentException or FormatException)
        {
            return [];
        }
        if (!head.EndsWith(image, StringComparison.Ordinal) || image.Contains('@')) return [];
        var storeText = head[..^image.Length];
        if (tagTyped is not null)
        {
            if (image.Length == 0) return [];
            return (await TagsAsync(store, image, tagTyped, cancellationToken).ConfigureAwait(false))
                .Select(tag => $"{storeText}{image}:{tag}").ToList();
        }
        return (await NamesAsync(store, image, cancellationToken).ConfigureAwait(false)).Select(name => storeText + name).ToList();
    }

    private static Task<IReadOnlyList<(string Name, string Tag)>> ListingAsync(StoreLocation store, CancellationToken cancellationToken)
        => Bounded(Listings.GetAsync(store, async location =>
        {
            using var limit = new CancellationTokenSource(LoadLimit);
            await using var images = await ImageStore.OpenAsync(location, limit.Token).ConfigureAwait(false);
            var tags = new List<(string Name, string Tag)>();
            await foreach (var entry in images.ListTagsAsync("", limit.Token).ConfigureAwait(false))
            {
                tags.Add((entry.Name, entry.Tag));
                if (tags.Count >= MaxTags) break;
            }
            return (IReadOnlyList<(string Name, string Tag)>)tags;
        }, cancellationToken));

    // The load goes on after a completion stops waiting (its result is cached for the next one); its failure is dropped.
    private static async Task<IReadOnlyList<T>> Bounded<T>(Task<IReadOnlyList<T>> load)
    {
        try
        {
            return await load.WaitAsync(Patience).ConfigureAwait(false);
        }
        catch (Exception)
        {
            _ = load.ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            return [];
        }
    }
}
