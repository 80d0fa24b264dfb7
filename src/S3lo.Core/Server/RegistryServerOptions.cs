using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace S3lo.Core.Server;

/// <summary>How <see cref="StoreRegistryServer"/> listens and whom it serves.</summary>
public sealed record RegistryServerOptions
{
    public IPAddress ListenAddress { get; init; } = IPAddress.Loopback;

    /// <summary>The TCP port; 0 picks a free one (<see cref="StoreRegistryServer.Port"/> says which).</summary>
    public int Port { get; init; } = 5000;

    /// <summary>Basic-authentication users; none means every request is served.</summary>
    public IReadOnlyList<NetworkCredential> Credentials { get; init; } = [];

    /// <summary>Serve without authentication on an address other than loopback.</summary>
    public bool AllowAnonymous { get; init; }

    /// <summary>With a certificate (and its private key) the server speaks HTTPS only, TLS 1.2 or later.</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>How long a repository's tags, manifests and referenced blobs are kept before the store is read again.</summary>
    public TimeSpan CacheDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests handled at once; more wait for a slot.</summary>
    public int MaxConcurrentRequests { get; init; } = 32;

    /// <summary>A kept-alive connection idle this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>On stop, how long requests in flight may take to finish before they are cut off.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>When set, a GET of a whole blob stored as one object answers 307 to a URL of the store's own (S3 presigned,
    /// Azure SAS) valid this long, so its bytes do not pass through the server. Only S3 and Azure stores can.</summary>
    public TimeSpan? RedirectDuration { get; init; }

    /// <summary>Receives one line per request (method, path, status, bytes, time, user) and the errors clients are not told.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>When not empty, only images one of these keys signed are served (a tag, its manifest by digest, the children
    /// of a signed index); anything else is 403 DENIED.</summary>
    public IReadOnlyList<Signing.VerificationKey> RequiredSignatureKeys { get; init; } = [];

    /// <summary>The store as its signatures name it (<see cref="Signing.SignedName.Store"/>); default the store's root.</summary>
    public string? SignatureStore { get; init; }
}
