using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Macs;
using Org.BouncyCastle.Crypto.Parameters;

namespace S3lo.Core.Signing;

/// <summary>
/// cosign's encrypted private key file: a PEM block (<c>ENCRYPTED SIGSTORE PRIVATE KEY</c>, or <c>ENCRYPTED COSIGN
/// PRIVATE KEY</c> from older cosign) holding JSON <c>{"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},
/// "cipher":{"name":"nacl/secretbox","nonce"},"ciphertext"}</c>: the PKCS#8 DER of the key sealed by NaCl secretbox
/// under scrypt(password, salt).
/// </summary>
internal static class CosignKeyFile
{
    public static bool IsCosignLabel(string label) => label is "ENCRYPTED SIGSTORE PRIVATE KEY" or "ENCRYPTED COSIGN PRIVATE KEY";

    public static byte[] Decrypt(byte[] envelope, string password, string keyRef)
    {
        int n, r, p;
        byte[] salt, nonce, sealedBox;
        try
        {
            using var document = JsonDocument.Parse(envelope);
            var root = document.RootElement;
            var kdf = root.GetProperty("kdf");
            var cipher = root.GetProperty("cipher");
            if (kdf.GetProperty("name").GetString() != "scrypt" || cipher.GetProperty("name").GetString() != "nacl/secretbox")
                throw KeyErrors.Invalid(keyRef, "its key file uses a key derivation or cipher other than scrypt and nacl/secretbox");
            var parameters = kdf.GetProperty("params");
            n = parameters.GetProperty("N").GetInt32();
            r = parameters.GetProperty("r").GetInt32();
            p = parameters.GetProperty("p").GetInt32();
            salt = Convert.FromBase64String(kdf.GetProperty("salt").GetString() ?? "");
            nonce = Convert.FromBase64String(cipher.GetProperty("nonce").GetString() ?? "");
            sealedBox = Convert.FromBase64String(root.GetProperty("ciphertext").GetString() ?? "");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw KeyErrors.Invalid(keyRef, "its cosign key file is malformed", e);
        }
        // Bounds that keep a hostile file from asking for gigabytes of memory; cosign writes N = 32768 (r 8, p 1).
        if (n < 2 || (n & (n - 1)) != 0 || n > 1 << 20 || r is < 1 or > 32 || p is < 1 or > 16 || nonce.Length != 24 || sealedBox.Length < 16)
            throw KeyErrors.Invalid(keyRef, "its cosign key file has scrypt parameters or a nonce out of range");

        var key = SCrypt.Generate(Encoding.UTF8.GetBytes(password), salt, n, r, p, 32);
        return Open(sealedBox, nonce, key)
               ?? throw new S3loException(ErrorIds.WrongKeyPassword, S3loErrorKind.InvalidArgument,
                   $"The key {keyRef} could not be decrypted: the password is wrong, or the file is damaged.", keyRef);
    }

    /// <summary>NaCl secretbox open (XSalsa20-Poly1305): tag (16 bytes) then ciphertext; null when the tag does not match.</summary>
    private static byte[]? Open(byte[] sealedBox, byte[] nonce, byte[] key)
    {
        var stream = new XSalsa20Engine();
        stream.Init(false, new ParametersWithIV(new KeyParameter(key), nonce));
        var macKey = new byte[32];
        stream.ProcessBytes(new byte[32], 0, 32, macKey, 0);

        var mac = new Poly1305();
        mac.Init(new KeyParameter(macKey));
        mac.BlockUpdate(sealedBox, 16, sealedBox.Length - 16);
        var tag = new byte[16];
        mac.DoFinal(tag, 0);
        if (!CryptographicOperations.FixedTimeEquals(tag, sealedBox.AsSpan(0, 16))) return null;

        var plain = new byte[sealedBox.Length - 16];
        stream.ProcessBytes(sealedBox, 16, plain.Length, plain, 0);
        return plain;
    }
}
