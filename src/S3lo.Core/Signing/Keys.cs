using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace S3lo.Core.Signing;

/// <summary>Something that signs payloads with one key: a key file, a certificate's private key, a KMS key.</summary>
public interface ISigner
{
    /// <summary>How the key was named (a path, <c>awskms:///alias/…</c>, a certificate), written into the record as <c>keyRef</c>.</summary>
    string KeyRef { get; }

    VerificationKey PublicKey { get; }

    /// <summary>The record's <c>algorithm</c>: <see cref="SignatureAlgorithms.EcdsaSha256"/> or <see cref="SignatureAlgorithms.RsaPkcs1Sha256"/>.</summary>
    string Algorithm { get; }

    /// <summary>The DER signature of SHA-256 over <paramref name="payload"/>.</summary>
    Task<byte[]> SignAsync(byte[] payload, CancellationToken cancellationToken);
}

/// <summary>
/// A public key, ECDSA P-256 or RSA, as its DER SubjectPublicKeyInfo. Its key ID is the first 16 hex characters of
/// SHA-256 over that DER: the name of the signature records it made.
/// </summary>
public sealed class VerificationKey
{
    private readonly AsymmetricAlgorithm _key;

    private VerificationKey(byte[] der, AsymmetricAlgorithm key, string keyRef)
    {
        Der = der;
        _key = key;
        KeyRef = keyRef;
        KeyId = Convert.ToHexString(SHA256.HashData(der)).ToLowerInvariant()[..16];
        Algorithm = key is ECDsa ? SignatureAlgorithms.EcdsaSha256 : SignatureAlgorithms.RsaPkcs1Sha256;
    }

    public byte[] Der { get; }
    public string KeyId { get; }

    /// <summary>Where the key came from, for messages.</summary>
    public string KeyRef { get; }

    /// <summary>The algorithm a signature by this key has.</summary>
    public string Algorithm { get; }

    /// <summary>Whether <paramref name="signature"/> (DER for ECDSA) is this key's signature of <paramref name="payload"/> with <paramref name="algorithm"/>.</summary>
    public bool Verify(byte[] payload, byte[] signature, string algorithm)
    {
        if (algorithm != Algorithm) return false;
        try
        {
            return _key switch
            {
                ECDsa ec => ec.VerifyData(payload, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence),
                RSA rsa => rsa.VerifyData(payload, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
                _ => false,
            };
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>A DER SubjectPublicKeyInfo; <c>InvalidKey</c> unless it is an ECDSA P-256 or RSA key.</summary>
    public static VerificationKey FromDer(byte[] der, string keyRef)
    {
        try
        {
            var ec = ECDsa.Create();
            try
            {
                ec.ImportSubjectPublicKeyInfo(der, out _);
                return new VerificationKey(der, RequireP256(ec, keyRef), keyRef);
            }
            catch (CryptographicException)
            {
                ec.Dispose();
            }
            var rsa = RSA.Create();
            rsa.ImportSubjectPublicKeyInfo(der, out _);
            return new VerificationKey(der, rsa, keyRef);
        }
        catch (CryptographicException e)
        {
            throw KeyErrors.Invalid(keyRef, "it is neither an ECDSA P-256 nor an RSA public key", e);
        }
    }

    /// <summary>The public half of a private key.</summary>
    public static VerificationKey Of(AsymmetricAlgorithm key, string keyRef) => FromDer(key.ExportSubjectPublicKeyInfo(), keyRef);

    /// <summary>
    /// A public key file: a PEM <c>PUBLIC KEY</c> (as <c>openssl pkey -pubout</c> and <c>cosign generate-key-pair</c> write it),
    /// a PEM <c>CERTIFICATE</c> (its key is used), or an unencrypted private key (its public half).
    /// </summary>
    public static VerificationKey FromFile(string path, string keyRef)
    {
        var text = KeyErrors.ReadKeyFile(path, keyRef);
        if (!PemEncoding.TryFind(text, out var fields))
            throw KeyErrors.Invalid(keyRef, "it is not a PEM file");
        var label = text[fields.Label].ToString();
        var der = Convert.FromBase64String(text[fields.Base64Data].ToString());
        switch (label)
        {
            case "PUBLIC KEY":
                return FromDer(der, keyRef);
            case "CERTIFICATE":
                using (var certificate = new X509Certificate2(der))
                    return FromCertificate(certificate, keyRef);
            default:
                using (var key = PrivateKeys.FromPem(text, keyRef, null))
                    return Of(key, keyRef);
        }
    }

    public static VerificationKey FromCertificate(X509Certificate2 certificate, string keyRef)
        => FromDer(certificate.PublicKey.ExportSubjectPublicKeyInfo(), keyRef);

    internal static ECDsa RequireP256(ECDsa ec, string keyRef)
    {
        if (ec.ExportParameters(false).Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
        {
            ec.Dispose();
            throw KeyErrors.Invalid(keyRef, "its ECDSA curve is not P-256, the only curve of the signature format");
        }
        return ec;
    }
}

/// <summary>Signs with a private key held in this process (a key file or a certificate's key).</summary>
public sealed class LocalSigner : ISigner, IDisposable
{
    private readonly AsymmetricAlgorithm _key;

    public LocalSigner(AsymmetricAlgorithm key, string keyRef)
    {
        if (key is ECDsa ec) VerificationKey.RequireP256(ec, keyRef);
        else if (key is not RSA) throw KeyErrors.Invalid(keyRef, "it is neither an ECDSA P-256 nor an RSA key");
        _key = key;
        KeyRef = keyRef;
        PublicKey = VerificationKey.Of(key, keyRef);
    }

    public string KeyRef { get; }
    public VerificationKey PublicKey { get; }
    public string Algorithm => PublicKey.Algorithm;

    public Task<byte[]> SignAsync(byte[] payload, CancellationToken cancellationToken)
        => Task.FromResult(_key switch
        {
            ECDsa ec => ec.SignData(payload, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence),
            RSA rsa => rsa.SignData(payload, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            _ => throw new InvalidOperationException(),
        });

    /// <summary>
    /// A private key file: PEM (<c>PRIVATE KEY</c>, <c>EC PRIVATE KEY</c>, <c>RSA PRIVATE KEY</c>, or <c>ENCRYPTED PRIVATE KEY</c>
    /// with a password), or a cosign key file (<c>ENCRYPTED SIGSTORE PRIVATE KEY</c> / <c>ENCRYPTED COSIGN PRIVATE KEY</c>).
    /// <paramref name="password"/> is asked only for an encrypted file.
    /// </summary>
    public static LocalSigner FromFile(string path, string keyRef, Func<string?> password)
        => new(PrivateKeys.FromPem(KeyErrors.ReadKeyFile(path, keyRef), keyRef, password), keyRef);

    /// <summary>The private key of a certificate; <c>InvalidKey</c> when it has none (or not an ECDSA P-256 or RSA one).</summary>
    public static LocalSigner FromCertificate(X509Certificate2 certificate)
    {
        var keyRef = "x509:" + certificate.Thumbprint;
        AsymmetricAlgorithm key = certificate.GetECDsaPrivateKey() as AsymmetricAlgorithm ?? certificate.GetRSAPrivateKey()
            ?? throw KeyErrors.Invalid(keyRef, $"the certificate {certificate.Subject} has no ECDSA or RSA private key here");
        return new LocalSigner(key, keyRef);
    }

    public void Dispose() => _key.Dispose();
}

internal static class PrivateKeys
{
    public static AsymmetricAlgorithm FromPem(string text, string keyRef, Func<string?>? password)
    {
        if (!PemEncoding.TryFind(text, out var fields)) throw KeyErrors.Invalid(keyRef, "it is not a PEM file");
        var label = text[fields.Label].ToString();
        if (CosignKeyFile.IsCosignLabel(label))
        {
            var pkcs8 = CosignKeyFile.Decrypt(Convert.FromBase64String(text[fields.Base64Data].ToString()), RequirePassword(password, keyRef), keyRef);
            return FromPkcs8(pkcs8, keyRef);
        }
        if (label == "ENCRYPTED PRIVATE KEY")
        {
            var secret = RequirePassword(password, keyRef);
            return Import(keyRef, k => k.ImportFromEncryptedPem(text, secret), wrongPassword: true);
        }
        if (label is not ("PRIVATE KEY" or "EC PRIVATE KEY" or "RSA PRIVATE KEY"))
            throw KeyErrors.Invalid(keyRef, $"it holds a '{label}', not a private key");
        return Import(keyRef, k => k.ImportFromPem(text), wrongPassword: false);
    }

    private static AsymmetricAlgorithm FromPkcs8(byte[] pkcs8, string keyRef)
        => Import(keyRef, k => k.ImportPkcs8PrivateKey(pkcs8, out _), wrongPassword: false);

    private static AsymmetricAlgorithm Import(string keyRef, Action<AsymmetricAlgorithm> import, bool wrongPassword)
    {
        CryptographicException? failure = null;
        foreach (var create in new Func<AsymmetricAlgorithm>[] { ECDsa.Create, RSA.Create })
        {
            var key = create();
            try
            {
                import(key);
                return key;
            }
            catch (CryptographicException e)
            {
                key.Dispose();
                failure = e;
            }
            catch (ArgumentException e)
            {
                key.Dispose();
                failure = new CryptographicException(e.Message, e);
            }
        }
        throw wrongPassword
            ? new S3loException(ErrorIds.WrongKeyPassword, S3loErrorKind.InvalidArgument, $"The key {keyRef} could not be decrypted: the password is wrong, or the file is damaged.", keyRef, failure)
            : KeyErrors.Invalid(keyRef, "it is neither an ECDSA P-256 nor an RSA private key", failure);
    }

    private static string RequirePassword(Func<string?>? password, string keyRef)
        => password?.Invoke() ?? throw new S3loException(ErrorIds.KeyPasswordRequired, S3loErrorKind.InvalidArgument,
            $"The key {keyRef} is encrypted: give its password with -Password, or in COSIGN_PASSWORD.", keyRef);
}

internal static class KeyErrors
{
    public static S3loException Invalid(string keyRef, string why, Exception? inner = null)
        => new(ErrorIds.InvalidKey, S3loErrorKind.InvalidArgument, $"The key {keyRef} cannot be used: {why}.", keyRef, inner);

    public static string ReadKeyFile(string path, string keyRef)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > 1 << 20) throw Invalid(keyRef, "the file is far larger than a key");
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new S3loException(ErrorIds.InvalidKey, e is FileNotFoundException or DirectoryNotFoundException ? S3loErrorKind.NotFound : S3loErrorKind.ReadError,
                $"The key file {path} cannot be read: {e.Message}", keyRef, e);
        }
    }
}
