using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace S3lo.Core.Oci;

/// <summary>A content digest, <c>sha256:&lt;64 lowercase hex&gt;</c>, the only algorithm the store format uses.</summary>
public readonly partial record struct Digest
{
    public const string Sha256Prefix = "sha256:";

    private Digest(string hex) => Hex = hex;

    /// <summary>The 64 lowercase hex characters.</summary>
    public string Hex { get; }

    public override string ToString() => Sha256Prefix + Hex;

    public static Digest Parse(string value)
    {
        if (TryParse(value, out var digest)) return digest;
        throw new S3loException(ErrorIds.InvalidDigest, S3loErrorKind.InvalidArgument,
            $"'{value}' is not a valid digest: expected sha256: followed by 64 lowercase hex characters.", value);
    }

    public static bool TryParse(string? value, out Digest digest)
    {
        digest = default;
        if (value is null || !value.StartsWith(Sha256Prefix, StringComparison.Ordinal)) return false;
        var hex = value.Substring(Sha256Prefix.Length);
        if (!HexPattern().IsMatch(hex)) return false;
        digest = new Digest(hex);
        return true;
    }

    public static Digest FromHex(string hex)
    {
        if (!HexPattern().IsMatch(hex))
            throw new S3loException(ErrorIds.InvalidDigest, S3loErrorKind.InvalidArgument,
                $"'{hex}' is not 64 lowercase hex characters.", hex);
        return new Digest(hex);
    }

    public static Digest FromHash(ReadOnlySpan<byte> sha256) => new(Convert.ToHexString(sha256).ToLowerInvariant());

    public static Digest Compute(ReadOnlySpan<byte> data) => FromHash(SHA256.HashData(data));

    public static async Task<Digest> ComputeAsync(Stream data, CancellationToken cancellationToken)
        => FromHash(await SHA256.HashDataAsync(data, cancellationToken).ConfigureAwait(false));

    [GeneratedRegex("^[0-9a-f]{64}$", RegexOptions.CultureInvariant)]
    private static partial Regex HexPattern();
}
