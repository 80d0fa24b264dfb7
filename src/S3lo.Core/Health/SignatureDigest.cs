using System.Text.Json;
using S3lo.Core.Oci;

namespace S3lo.Core.Health;

/// <summary>
/// Reads what a store check needs of a signature record (docs/format.md, "Signing records"): its schema version and the
/// manifest digest it signs. The signature itself is not verified here: that needs the signer's public key.
/// </summary>
internal static class SignatureDigest
{
    public const int SchemaVersion = 2;

    /// <summary>The digest the record signs; a reason when the record cannot be read.</summary>
    public static (Digest? Digest, string? Problem) Read(byte[] record)
    {
        try
        {
            using var document = JsonDocument.Parse(record);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return (null, "it is not a JSON object");
            if (!root.TryGetProperty("schemaVersion", out var version) || version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out var v))
                return (null, "it has no schemaVersion");
            if (v != SchemaVersion) return (null, $"its schemaVersion is {v}, not {SchemaVersion}");
            if (!root.TryGetProperty("digest", out var digest) || digest.ValueKind != JsonValueKind.String)
                return (null, "it has no digest");
            return Digest.TryParse(digest.GetString(), out var parsed) ? (parsed, null) : (null, $"its digest '{digest.GetString()}' is not a sha256 digest");
        }
        catch (JsonException e)
        {
            return (null, $"it is not JSON: {e.Message}");
        }
    }
}
