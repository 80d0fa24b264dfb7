using System.Text.Json;
using System.Text.Json.Nodes;

namespace S3lo.Core.Oci;

/// <summary>A content descriptor: what a manifest says about one blob or child manifest.</summary>
public sealed record Descriptor(string MediaType, Digest Digest, long Size)
{
    public Platform? Platform { get; init; }
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = EmptyAnnotations;

    internal static readonly IReadOnlyDictionary<string, string> EmptyAnnotations = new Dictionary<string, string>();

    internal JsonObject ToJson()
    {
        var o = new JsonObject { ["mediaType"] = MediaType, ["digest"] = Digest.ToString(), ["size"] = Size };
        if (Annotations.Count > 0)
            o["annotations"] = new JsonObject(Annotations.Select(a => KeyValuePair.Create(a.Key, (JsonNode?)a.Value)));
        return o;
    }
}

/// <summary>
/// A parsed OCI image manifest or image index (or their Docker schema-2 equivalents), with the exact
/// bytes it was parsed from: a manifest's digest is the digest of those bytes, never of a re-serialization.
/// </summary>
public sealed class Manifest
{
    /// <summary>The distribution spec's limit on a manifest; refusing larger ones keeps a corrupt descriptor or a
    /// hostile store from making S3lo allocate gigabytes.</summary>
    public const long MaxBytes = 4 << 20;

    /// <summary>
    /// The deepest index, the root being depth 0, whose entries are followed: the pushers refuse a tree with an
    /// index deeper than this that lists anything, and garbage collection stops at one (deeper is not an image
    /// S3lo or s3lo wrote).
    /// </summary>
    public const int MaxIndexDepth = 4;

    private Manifest(byte[] bytes, string mediaType, Descriptor? config, IReadOnlyList<Descriptor> layers,
        IReadOnlyList<Descriptor> manifests, IReadOnlyDictionary<string, string> annotations)
    {
        Bytes = bytes;
        MediaType = mediaType;
        Digest = Digest.Compute(bytes);
        Config = config;
        Layers = layers;
        Manifests = manifests;
        Annotations = annotations;
    }

    public byte[] Bytes { get; }
    public Digest Digest { get; }
    public string MediaType { get; }
    public bool IsIndex => MediaTypes.IsIndex(MediaType);
    public Descriptor? Config { get; }
    public IReadOnlyList<Descriptor> Layers { get; }
    /// <summary>For an index, its entries (attestations included).</summary>
    public IReadOnlyList<Descriptor> Manifests { get; }
    public IReadOnlyDictionary<string, string> Annotations { get; }

    /// <summary>Config and layers of an image manifest; the child manifests of an index.</summary>
    public IEnumerable<Descriptor> References => IsIndex ? Manifests : Layers.Prepend(Config!);

    /// <summary>The platforms an index offers, attestation entries hidden.</summary>
    public IEnumerable<Platform> Platforms => Manifests.Select(m => m.Platform).OfType<Platform>().Where(p => !p.IsAttestation);

    public long ContentSize => Config is null ? 0 : Config.Size + Layers.Sum(l => l.Size);

    public string Json => System.Text.Encoding.UTF8.GetString(Bytes);

    /// <summary>Picks the index entry for <paramref name="wanted"/>; attestation entries are never chosen.</summary>
    public Descriptor SelectPlatform(Platform wanted)
    {
        var match = Manifests.FirstOrDefault(m => m.Platform is { IsAttestation: false } p && wanted.Matches(p));
        return match ?? throw new S3loException(ErrorIds.PlatformNotFound, S3loErrorKind.NotFound,
            $"The image index has no manifest for platform {wanted}; it offers: {string.Join(", ", Platforms)}.", wanted.ToString());
    }

    /// <summary>Reads a manifest or index; anything that is not one (invalid UTF-8, numbers out of range, a key twice) is <c>InvalidManifest</c>.</summary>
    public static Manifest Parse(byte[] bytes, string? mediaTypeHint = null)
    {
        try
        {
            return ParseJson(bytes, mediaTypeHint);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException or ArgumentException or KeyNotFoundException)
        {
            throw Invalid(e.Message, e);
        }
    }

    private static Manifest ParseJson(byte[] bytes, string? mediaTypeHint)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(bytes).RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw Invalid("it is not valid JSON", e);
        }
        if (root.ValueKind != JsonValueKind.Object) throw Invalid("it is not a JSON object");

        var mediaType = root.TryGetProperty("mediaType", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString() : null;
        if (mediaType is null)
        {
            var schema2 = root.TryGetProperty("schemaVersion", out var sv) && sv.ValueKind == JsonValueKind.Number && sv.GetInt32() == 2;
            if (schema2 && root.TryGetProperty("manifests", out var m) && m.ValueKind == JsonValueKind.Array) mediaType = MediaTypes.OciIndex;
            else if (schema2 && root.TryGetProperty("config", out _)) mediaType = mediaTypeHint is not null && MediaTypes.IsImageManifest(mediaTypeHint) ? mediaTypeHint : MediaTypes.OciManifest;
            else if (mediaTypeHint is not null && MediaTypes.IsManifest(mediaTypeHint)) mediaType = mediaTypeHint;
        }
        if (!MediaTypes.IsManifest(mediaType))
            throw new S3loException(ErrorIds.UnsupportedMediaType, S3loErrorKind.InvalidData,
                $"The document is not an OCI image manifest or index (media type '{mediaType ?? "none"}').", mediaType);

        var annotations = ReadAnnotations(root);
        if (MediaTypes.IsIndex(mediaType))
        {
            if (!root.TryGetProperty("manifests", out var entries) || entries.ValueKind != JsonValueKind.Array)
                throw Invalid("the index has no manifests array");
            return new Manifest(bytes, mediaType!, null, [], entries.EnumerateArray().Select(ReadDescriptor).ToList(), annotations);
        }
        if (!root.TryGetProperty("config", out var config)) throw Invalid("the manifest has no config");
        var layers = root.TryGetProperty("layers", out var l) && l.ValueKind == JsonValueKind.Array
            ? l.EnumerateArray().Select(ReadDescriptor).ToList()
            : [];
        return new Manifest(bytes, mediaType!, ReadDescriptor(config), layers, [], annotations);
    }

    /// <summary>Serializes a new single-platform OCI manifest (only for manifests S3lo itself creates).</summary>
    public static Manifest CreateImage(Descriptor config, IEnumerable<Descriptor> layers, IReadOnlyDictionary<string, string>? annotations = null)
    {
        var o = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = MediaTypes.OciManifest,
            ["config"] = config.ToJson(),
            ["layers"] = new JsonArray(layers.Select(d => (JsonNode)d.ToJson()).ToArray()),
        };
        if (annotations is { Count: > 0 })
            o["annotations"] = new JsonObject(annotations.Select(a => KeyValuePair.Create(a.Key, (JsonNode?)a.Value)));
        return Parse(JsonSerializer.SerializeToUtf8Bytes(o));
    }

    private static Descriptor ReadDescriptor(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Invalid("a descriptor is not an object");
        var mediaType = e.TryGetProperty("mediaType", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString()! : "";
        if (!e.TryGetProperty("digest", out var d) || d.ValueKind != JsonValueKind.String || !Digest.TryParse(d.GetString(), out var digest))
            throw Invalid("a descriptor has a missing or invalid sha256 digest");
        if (!e.TryGetProperty("size", out var s) || s.ValueKind != JsonValueKind.Number || !s.TryGetInt64(out var size) || size < 0)
            throw Invalid($"descriptor {digest} has a missing or invalid size");
        Platform? platform = null;
        if (e.TryGetProperty("platform", out var p) && p.ValueKind == JsonValueKind.Object)
        {
            string? Str(string name) => p.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            platform = new Platform(Str("os") ?? "", Str("architecture") ?? "", string.IsNullOrEmpty(Str("variant")) ? null : Str("variant"));
        }
        return new Descriptor(mediaType, digest, size) { Platform = platform, Annotations = ReadAnnotations(e) };
    }

    private static IReadOnlyDictionary<string, string> ReadAnnotations(JsonElement e)
    {
        if (!e.TryGetProperty("annotations", out var a) || a.ValueKind != JsonValueKind.Object) return Descriptor.EmptyAnnotations;
        return a.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String)
            .ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal);
    }

    private static S3loException Invalid(string why, Exception? inner = null)
        => new(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData, $"The manifest cannot be read: {why}.", null, inner);
}
