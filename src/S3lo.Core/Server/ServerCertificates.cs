using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace S3lo.Core.Server;

/// <summary>Loads the certificate the server presents.</summary>
public static class ServerCertificates
{
    /// <summary>A PEM certificate (chain first) and its PEM private key (PKCS#8, RSA or EC; the key may also be in the
    /// certificate file when <paramref name="keyPath"/> is null); a file that does not hold them is <c>InvalidCertificate</c>.</summary>
    public static X509Certificate2 FromPemFiles(string certificatePath, string? keyPath)
    {
        try
        {
            using var loaded = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            // A key loaded from PEM is ephemeral, which SslStream on Windows refuses; a PKCS#12 round trip keeps it usable everywhere.
            return new X509Certificate2(loaded.Export(X509ContentType.Pkcs12));
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new S3loException(ErrorIds.InvalidCertificate, S3loErrorKind.InvalidArgument,
                $"Cannot load the certificate '{certificatePath}'{(keyPath is null ? "" : $" with the key '{keyPath}'")}: {e.Message}", certificatePath, e);
        }
    }
}
