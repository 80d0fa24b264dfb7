using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace S3lo.Core.Signing;

/// <summary>The signature algorithms of the record format (docs/format.md, "Signing records").</summary>
public static class SignatureAlgorithms
{
    public const string EcdsaSha256 = "ECDSA_SHA_256";
    public const string RsaPkcs1Sha256 = "RSA_PKCS1_SHA_256";
}

/// <summary>
/// One signature record, <c>manifests/&lt;image&gt;/&lt;tag&gt;/signatures/&lt;keyID&gt;.json</c> (schemaVersion 2): which
/// manifest digest was signed, by which key, with what signature.
/// </summary>
public sealed record SignatureRecord(int SchemaVersion, string Digest, string KeyRef, string KeyId, string Algorithm, byte[] Signature, DateTimeOffset SignedAt)
{
    public const int CurrentSchemaVersion = 2;

    /// <summary>A record is small; anything beyond this is not one.</summary>
    public const int MaxBytes = 64 << 10;

    private static readonly JsonSerializerOptions WriteOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The record as stored, fields in the order of the format.</summary>
    public byte[] ToJson()
    {
        var node = new JsonObject
        {
            ["schemaVersion"] = SchemaVersion,
            ["digest"] = Digest,
            ["keyRef"] = KeyRef,
            ["keyID"] = KeyId,
            ["algorithm"] = Algorithm,
            ["signature"] = Convert.ToBase64String(Signature),
            ["signedAt"] = SignedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        };
        // Base64 and paths written as they are ('+', not \u002B): the record stays readable, and is the same JSON to any parser.
        return JsonSerializer.SerializeToUtf8Bytes(node, WriteOptions);
    }

    /// <summary>
    /// Reads a stored record. Null when it is not a schemaVersion 2 record this version understands (another schema,
    /// unparsable JSON, a field missing or of the wrong type): such a record is reported, never trusted.
    /// </summary>
    public static SignatureRecord? TryParse(ReadOnlySpan<byte> json)
    {
        try
        {
            var node = JsonNode.Parse(json) as JsonObject;
            if (node is null || node["schemaVersion"]?.GetValue<int>() != CurrentSchemaVersion) return null;
            string Text(string name) => node[name]?.GetValue<string>() ?? throw new FormatException(name);
            var signedAt = DateTimeOffset.Parse(Text("signedAt"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            return new SignatureRecord(CurrentSchemaVersion, Text("digest"), Text("keyRef"), Text("keyID"), Text("algorithm"),
                Convert.FromBase64String(Text("signature")), signedAt);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// The manifest digest a record signs, read without the rest of the record (a store check has no key to verify the
    /// signature with); a reason instead when it is not a schemaVersion 2 record with a sha256 digest.
    /// </summary>
    internal static (Oci.Digest? Digest, string? Problem) ReadSignedDigest(byte[] json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return (null, "it is not a JSON object");
            if (!root.TryGetProperty("schemaVersion", out var version) || version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out var v))
                return (null, "it has no schemaVersion");
            if (v != CurrentSchemaVersion) return (null, $"its schemaVersion is {v}, not {CurrentSchemaVersion}");
            if (!root.TryGetProperty("digest", out var digest) || digest.ValueKind != JsonValueKind.String)
                return (null, "it has no digest");
            return Oci.Digest.TryParse(digest.GetString(), out var parsed) ? (parsed, null) : (null, $"its digest '{digest.GetString()}' is not a sha256 digest");
        }
        catch (JsonException e)
        {
            return (null, $"it is not JSON: {e.Message}");
        }
    }

    /// <summary>What a record says of itself before it is parsed whole: its keyID, when it has one as text.</summary>
    internal static string? PeekKeyId(ReadOnlySpan<byte> json)
    {
        try
        {
            return (JsonNode.Parse(json) as JsonObject)?["keyID"]?.GetValue<string>();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }
}
