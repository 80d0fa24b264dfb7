using S3lo.Core.Oci;

namespace S3lo.Core.Storage;

/// <summary>The object keys of the store format (docs/format.md, "Keys").</summary>
public static class StoreLayout
{
    public const string ManifestsPrefix = "manifests/";
    public const string BlobsPrefix = "blobs/sha256/";
    public const string RecipesPrefix = "recipes/sha256/";
    public const string IndexesPrefix = "indexes/sha256/";
    public const string ChunksPrefix = "chunks/sha256/";

    /// <summary>S3lo's own (docs/format.md, "Layer entries"): per diff_id, the compressed digest of the layer stored chunked.</summary>
    public const string LayersPrefix = "layers/sha256/";
    public const string ManifestFileName = "manifest.json";
    public const string OciLayoutFileName = "oci-layout";
    public static readonly byte[] OciLayoutContent = "{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray();

    /// <summary>Files older s3lo versions left beside a tag's manifest: ignored on read, deleted with the tag.</summary>
    public static readonly string[] LegacyTagFiles = ["history.json", "index.json", "config.json"];

    public static string BlobKey(Digest digest) => BlobsPrefix + digest.Hex;

    /// <summary>The recipe of a chunked layer, keyed by the layer's (compressed) digest.</summary>
    public static string RecipeKey(Digest layer) => RecipesPrefix + layer.Hex;

    /// <summary>The file index of a chunked layer, keyed by the layer's (compressed) digest.</summary>
    public static string IndexKey(Digest layer) => IndexesPrefix + layer.Hex;

    /// <summary>Where S3lo finds a chunked layer by the digest of its uncompressed tar (its diff_id).</summary>
    public static string LayerKey(Digest diffId) => LayersPrefix + diffId.Hex;

    /// <summary>One chunk of a chunked layer (a zstd frame), keyed by the digest of its raw bytes.</summary>
    public static string ChunkKey(Digest chunk) => ChunksPrefix + chunk.Hex;

    public static string TagPrefix(string name, string tag) => $"{ManifestsPrefix}{name}/{tag}/";

    public static string ManifestKey(string name, string tag) => TagPrefix(name, tag) + ManifestFileName;

    public static string OciLayoutKey(string name, string tag) => TagPrefix(name, tag) + OciLayoutFileName;

    public static string SignaturesPrefix(string name, string tag) => TagPrefix(name, tag) + "signatures/";

    /// <summary>
    /// Reads image and tag back from a <c>manifests/&lt;image&gt;/&lt;tag&gt;/manifest.json</c> key; false for any
    /// other key, or one whose name or tag is not valid (such a key cannot have been written by a client).
    /// </summary>
    public static bool TryParseManifestKey(string key, out string name, out string tag)
    {
        name = tag = "";
        if (!key.StartsWith(ManifestsPrefix, StringComparison.Ordinal) || !key.EndsWith("/" + ManifestFileName, StringComparison.Ordinal)) return false;
        var inner = key[ManifestsPrefix.Length..^(ManifestFileName.Length + 1)];
        var slash = inner.LastIndexOf('/');
        if (slash <= 0) return false;
        name = inner[..slash];
        tag = inner[(slash + 1)..];
        return ImageName.IsValidName(name) && ImageName.IsValidTag(tag);
    }
}
