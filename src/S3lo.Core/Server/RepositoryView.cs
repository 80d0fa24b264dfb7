using System.Text.Json;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Server;

/// <summary>
/// What one repository (image name) of the store holds, as a registry serves it: its tags, every manifest reachable
/// from them (tag manifests and, through indexes, their children), the blobs those manifests reference (the only
/// blobs served under that name), and which manifests name another as their subject (the referrers API).
/// </summary>
internal sealed class RepositoryView
{
    private RepositoryView(IReadOnlyList<string> tags, IReadOnlyDictionary<string, Manifest> byTag, IReadOnlyDictionary<Digest, Manifest> byDigest,
        IReadOnlyDictionary<Digest, Descriptor> blobs, IReadOnlyDictionary<Digest, List<ReferrerEntry>> referrers)
    {
        Tags = tags;
        ByTag = byTag;
        ByDigest = byDigest;
        Blobs = blobs;
        Referrers = referrers;
    }

    /// <summary>The tags, in lexical (ordinal) order, as tags/list returns them.</summary>
    public IReadOnlyList<string> Tags { get; }
    public IReadOnlyDictionary<string, Manifest> ByTag { get; }
    public IReadOnlyDictionary<Digest, Manifest> ByDigest { get; }
    /// <summary>Configs, layers and child manifests referenced from the tags, by digest.</summary>
    public IReadOnlyDictionary<Digest, Descriptor> Blobs { get; }
    public IReadOnlyDictionary<Digest, List<ReferrerEntry>> Referrers { get; }

    public bool Exists => Tags.Count > 0;

    /// <summary>Reads the repository: its tags (listed), each tag's manifest, and the children of indexes down to
    /// <see cref="Manifest.MaxIndexDepth"/>. A tag or child that cannot be read is left out and reported to <paramref name="skipped"/>.</summary>
    public static async Task<RepositoryView> LoadAsync(ImageStore store, string name, Action<string, S3loException> skipped, CancellationToken cancellationToken)
    {
        var tagNames = new List<string>();
        await foreach (var entry in store.ListTagsAsync(name + "/", cancellationToken).ConfigureAwait(false))
        {
            if (entry.Name == name) tagNames.Add(entry.Tag);
        }
        tagNames.Sort(StringComparer.Ordinal);

        var byTag = new Dictionary<string, Manifest>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(tagNames, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (tag, ct) =>
        {
            try
            {
                if (await store.TryGetTagAsync(name, tag, ct).ConfigureAwait(false) is { } read)
                    lock (byTag) byTag[tag] = read.Manifest;
            }
            catch (S3loException e) when (e.Kind is S3loErrorKind.InvalidData or S3loErrorKind.NotFound)
            {
                skipped($"{name}:{tag}", e);
            }
        }).ConfigureAwait(false);

        var byDigest = new Dictionary<Digest, Manifest>();
        var blobs = new Dictionary<Digest, Descriptor>();
        var referrers = new Dictionary<Digest, List<ReferrerEntry>>();
        foreach (var manifest in byTag.Values) byDigest.TryAdd(manifest.Digest, manifest);
        var level = byTag.Values.DistinctBy(m => m.Digest).ToList();
        for (var depth = 0; level.Count > 0 && depth <= Manifest.MaxIndexDepth; depth++)
        {
            var next = new List<Manifest>();
            foreach (var manifest in level)
            {
                foreach (var d in manifest.References) blobs.TryAdd(d.Digest, d);
                if (ReferrerEntry.Read(manifest) is { } referrer)
                {
                    if (!referrers.TryGetValue(referrer.Subject, out var list)) referrers[referrer.Subject] = list = [];
                    list.Add(referrer);
                }
                if (!manifest.IsIndex) continue;
                foreach (var child in manifest.Manifests.Where(c => !byDigest.ContainsKey(c.Digest)))
                {
                    try
                    {
                        var read = await store.GetManifestBlobAsync(child, cancellationToken).ConfigureAwait(false);
                        if (byDigest.TryAdd(read.Digest, read)) next.Add(read);
                    }
                    catch (S3loException e) when (e.Kind is S3loErrorKind.InvalidData or S3loErrorKind.NotFound)
                    {
                        skipped($"{name}@{child.Digest}", e);
                    }
                }
            }
            level = next;
        }
        return new RepositoryView(tagNames.Where(byTag.ContainsKey).ToList(), byTag, byDigest, blobs, referrers);
    }
}

/// <summary>A manifest that names a subject, as the referrers API lists it.</summary>
internal sealed record ReferrerEntry(Digest Subject, string MediaType, Digest Digest, long Size, string? ArtifactType, JsonElement? Annotations)
{
    public static ReferrerEntry? Read(Manifest manifest)
    {
        using var json = JsonDocument.Parse(manifest.Bytes);
        var root = json.RootElement;
        if (!root.TryGetProperty("subject", out var subject) || subject.ValueKind != JsonValueKind.Object
            || !subject.TryGetProperty("digest", out var d) || !Digest.TryParse(d.GetString(), out var digest)) return null;
        // An image manifest without artifactType is listed with its config's media type (image-spec, "Listing referrers").
        var artifactType = root.TryGetProperty("artifactType", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()
            : manifest.Config?.MediaType;
        JsonElement? annotations = root.TryGetProperty("annotations", out var n) && n.ValueKind == JsonValueKind.Object ? n.Clone() : null;
        return new ReferrerEntry(digest, manifest.MediaType, manifest.Digest, manifest.Bytes.Length, artifactType, annotations);
    }
}
