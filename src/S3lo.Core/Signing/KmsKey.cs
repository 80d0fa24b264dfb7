using System.Security.Cryptography;
using Amazon;
using Amazon.KeyManagementService;
using Amazon.KeyManagementService.Model;
using Amazon.Runtime;
using S3lo.Core.Storage.S3;

namespace S3lo.Core.Signing;

/// <summary>
/// An AWS KMS asymmetric signing key (ECC_NIST_P256, or RSA with RSASSA_PKCS1_V1_5_SHA_256), named as cosign names it:
/// <c>awskms:///alias/name</c>, <c>awskms:///arn:aws:kms:…</c>, <c>awskms://host:port/alias/name</c> (an endpoint of its own),
/// or a bare key ARN. The private key never leaves KMS: it signs the payload's SHA-256, and the public key comes from
/// GetPublicKey. Credentials, profile and region are those of S3 (<see cref="S3ConnectionOptions"/>); the endpoint is the
/// reference's host, else AWS_ENDPOINT_URL_KMS, else AWS's.
/// </summary>
public sealed class KmsKey : ISigner, IDisposable
{
    private readonly IAmazonKeyManagementService _client;
    private readonly string _keyId;

    private KmsKey(IAmazonKeyManagementService client, string keyId, string keyRef, VerificationKey publicKey, string kmsAlgorithm)
    {
        _client = client;
        _keyId = keyId;
        KeyRef = keyRef;
        PublicKey = publicKey;
        KmsAlgorithm = kmsAlgorithm;
    }

    public string KeyRef { get; }
    public VerificationKey PublicKey { get; }
    public string Algorithm => PublicKey.Algorithm;

    /// <summary>The KMS SigningAlgorithm used.</summary>
    public string KmsAlgorithm { get; }

    /// <summary>Whether <paramref name="text"/> names a KMS key rather than a file.</summary>
    public static bool IsKmsReference(string text)
        => text.StartsWith("awskms://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("arn:aws:kms:", StringComparison.Ordinal);

    public static async Task<KmsKey> OpenAsync(string keyRef, S3ConnectionOptions connection, CancellationToken cancellationToken)
    {
        var (endpoint, keyId) = Split(keyRef);
        var (credentials, profileRegion) = await S3ObjectStore.ResolveCredentialsAsync(connection, cancellationToken).ConfigureAwait(false);
        var region = connection.Region ?? RegionOfArn(keyId) ?? profileRegion ?? Environment.GetEnvironmentVariable("AWS_REGION")
                     ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") ?? "us-east-1";
        endpoint ??= Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL_KMS") is { Length: > 0 } configured ? configured : null;
        var config = new AmazonKeyManagementServiceConfig { RetryMode = RequestRetryMode.Standard, MaxErrorRetry = 3 };
        if (endpoint is null)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }
        else
        {
            config.ServiceURL = endpoint;
            config.AuthenticationRegion = region;
        }
        var client = new AmazonKeyManagementServiceClient(credentials, config);
        try
        {
            var response = await Call(keyRef, () => client.GetPublicKeyAsync(new GetPublicKeyRequest { KeyId = keyId }, cancellationToken)).ConfigureAwait(false);
            var publicKey = VerificationKey.FromDer(response.PublicKey.ToArray(), keyRef);
            var wanted = publicKey.Algorithm == SignatureAlgorithms.EcdsaSha256 ? "ECDSA_SHA_256" : "RSASSA_PKCS1_V1_5_SHA_256";
            if (response.SigningAlgorithms is { Count: > 0 } offered && !offered.Contains(wanted))
                throw KeyErrors.Invalid(keyRef, $"the KMS key does not sign with {wanted} (it offers {string.Join(", ", offered)})");
            return new KmsKey(client, keyId, keyRef, publicKey, wanted);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public async Task<byte[]> SignAsync(byte[] payload, CancellationToken cancellationToken)
    {
        // KMS hashes a RAW message of up to 4096 bytes itself, which every payload of a valid name is; a longer one goes as its digest.
        var raw = payload.Length <= 4096;
        var response = await Call(KeyRef, () => _client.SignAsync(new SignRequest
        {
            KeyId = _keyId,
            Message = new MemoryStream(raw ? payload : SHA256.HashData(payload)),
            MessageType = raw ? MessageType.RAW : MessageType.DIGEST,
            SigningAlgorithm = KmsAlgorithm,
        }, cancellationToken)).ConfigureAwait(false);
        var signature = response.Signature.ToArray();
        // What KMS answered is checked like any other input: a signature that does not verify is never written.
        if (!PublicKey.Verify(payload, signature, Algorithm))
            throw new S3loException(ErrorIds.SigningFailed, S3loErrorKind.InvalidData,
                $"KMS returned a signature for {KeyRef} that does not verify with the key's public key.", KeyRef);
        return signature;
    }

    /// <summary>The endpoint (null for AWS's) and the KMS KeyId of a key reference.</summary>
    internal static (string? Endpoint, string KeyId) Split(string keyRef)
    {
        const string scheme = "awskms://";
        if (!keyRef.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return (null, keyRef);
        var rest = keyRef[scheme.Length..];
        var slash = rest.IndexOf('/');
        if (slash < 0 || slash == rest.Length - 1)
            throw KeyErrors.Invalid(keyRef, "an awskms:// key names a key after the host: awskms:///alias/name or awskms:///arn:aws:kms:…");
        var host = rest[..slash];
        var keyId = rest[(slash + 1)..];
        return (host.Length == 0 ? null : host.Contains("://", StringComparison.Ordinal) ? host : "https://" + host, keyId);
    }

    private static string? RegionOfArn(string keyId)
    {
        var parts = keyId.Split(':');
        return parts.Length > 4 && parts[0] == "arn" && parts[2] == "kms" && parts[3].Length > 0 ? parts[3] : null;
    }

    private static async Task<T> Call<T>(string keyRef, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (AmazonServiceException e) when (e is not AmazonKeyManagementServiceException { ErrorCode: "AccessDeniedException" })
        {
            var kind = e is NotFoundException ? S3loErrorKind.NotFound : S3loErrorKind.InvalidArgument;
            throw new S3loException(ErrorIds.SigningFailed, kind, $"KMS refused {keyRef}: {e.ErrorCode}: {e.Message}", keyRef, e);
        }
        catch (AmazonKeyManagementServiceException e)
        {
            throw new S3loException(ErrorIds.SigningFailed, S3loErrorKind.PermissionDenied, $"KMS denied access to {keyRef}: {e.Message}", keyRef, e);
        }
        catch (Exception e) when (e is AmazonClientException or HttpRequestException)
        {
            throw new S3loException(ErrorIds.SigningFailed, S3loErrorKind.ConnectionError, $"KMS could not be reached for {keyRef}: {e.Message}", keyRef, e);
        }
    }

    public void Dispose() => _client.Dispose();
}
