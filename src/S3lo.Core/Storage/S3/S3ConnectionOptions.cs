using S3lo.Core.IO;

namespace S3lo.Core.Storage.S3;

/// <summary>How to reach S3: all optional; what is not given comes from the standard AWS chain.</summary>
public sealed record S3ConnectionOptions
{
    public string? ProfileName { get; init; }
    public string? Region { get; init; }
    /// <summary>An S3-compatible endpoint; implies path-style addressing and checksums only when required.</summary>
    public string? EndpointUrl { get; init; }
    public string? AccessKey { get; init; }
    // Internal so that the secret never shows in a listed object's properties, its ToString or ConvertTo-Json.
    internal string? SecretKey { get; init; }
    internal string? SessionToken { get; init; }
    /// <summary>Storage class for blobs; null means INTELLIGENT_TIERING on AWS and none on a custom endpoint.</summary>
    public string? BlobStorageClass { get; init; }
    /// <summary>Storage class for manifests and metadata; null means STANDARD on AWS and none on a custom endpoint.</summary>
    public string? ManifestStorageClass { get; init; }

    /// <summary>How long a request may go without moving (no body byte sent, no answer, no answer byte received) before it
    /// fails as a dropped connection, to be retried or resumed. A transfer that keeps moving is never cut off.</summary>
    internal TimeSpan IdleTimeout { get; init; } = IdleTimeoutHandler.DefaultIdleTimeout;

    public bool IsCustomEndpoint => !string.IsNullOrEmpty(EndpointUrl);
}
