namespace S3lo.Core;

/// <summary>What kind of failure an <see cref="S3loException"/> reports; the cmdlets map it to an ErrorCategory.</summary>
public enum S3loErrorKind
{
    InvalidArgument,
    InvalidData,
    NotFound,
    ResourceExists,
    PermissionDenied,
    ConnectionError,
    OperationStopped,
    WriteError,
    ReadError,
    NotImplemented,
}

/// <summary>
/// A failure with a stable error id (for example <c>ImageNotFound</c> or <c>DigestMismatch</c>)
/// that callers and scripts can rely on, and the object it concerns.
/// </summary>
public class S3loException : Exception
{
    public S3loException(string errorId, S3loErrorKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    public string ErrorId { get; }
    public S3loErrorKind Kind { get; }
    public object? Target { get; }
}

/// <summary>The stable error ids S3lo reports.</summary>
public static class ErrorIds
{
    public const string InvalidReference = "InvalidReference";
    public const string InvalidArgument = "InvalidArgument";
    public const string InvalidName = "InvalidName";
    public const string InvalidTag = "InvalidTag";
    public const string InvalidDigest = "InvalidDigest";
    public const string TagRequired = "TagRequired";
    public const string InvalidPlatform = "InvalidPlatform";
    public const string ImageNotFound = "ImageNotFound";
    public const string BlobNotFound = "BlobNotFound";
    public const string PlatformNotFound = "PlatformNotFound";
    public const string DigestMismatch = "DigestMismatch";
    public const string SizeMismatch = "SizeMismatch";
    public const string InvalidManifest = "InvalidManifest";
    public const string UnsupportedMediaType = "UnsupportedMediaType";
    public const string SourceNotFound = "SourceNotFound";
    public const string UnsupportedSource = "UnsupportedSource";
    public const string InvalidArchive = "InvalidArchive";
    public const string UnsafeArchivePath = "UnsafeArchivePath";
    public const string AmbiguousSourceImage = "AmbiguousSourceImage";
    public const string SourceImageNotFound = "SourceImageNotFound";
    public const string OutputExists = "OutputExists";
    /// <summary>The output path of a save or a file read cannot be created or written (no such parent, no permission).</summary>
    public const string OutputError = "OutputError";
    public const string StoreNotFound = "StoreNotFound";
    public const string StoreAccessDenied = "StoreAccessDenied";
    public const string CredentialsNotFound = "CredentialsNotFound";
    public const string StorageAccountRequired = "StorageAccountRequired";
    public const string StoreUnreachable = "StoreUnreachable";
    public const string StoreError = "StoreError";
    /// <summary>A read kept being cut off (connection reset, body ended early) until its retries were spent.</summary>
    public const string TransferInterrupted = "TransferInterrupted";
    public const string ObjectNotFound = "ObjectNotFound";
    public const string ObjectTooLarge = "ObjectTooLarge";
    public const string PreconditionFailed = "PreconditionFailed";
    public const string InvalidPolicy = "InvalidPolicy";
    public const string TagImmutable = "TagImmutable";
    public const string TagChanged = "TagChanged";
    public const string InvalidKey = "InvalidKey";
    public const string KeyPasswordRequired = "KeyPasswordRequired";
    public const string WrongKeyPassword = "WrongKeyPassword";
    public const string SigningFailed = "SigningFailed";
    public const string UnsupportedChunkFormat = "UnsupportedChunkFormat";
    public const string FileNotFound = "FileNotFound";
    public const string IsADirectory = "IsADirectory";
    public const string SymlinkLoop = "SymlinkLoop";
    public const string InvalidLayer = "InvalidLayer";
    public const string InvalidDockerHost = "InvalidDockerHost";
    public const string DockerUnreachable = "DockerUnreachable";
    public const string DockerError = "DockerError";
    public const string DockerLoadFailed = "DockerLoadFailed";
    public const string RegistryAccessDenied = "RegistryAccessDenied";
    public const string RegistryUnreachable = "RegistryUnreachable";
    public const string RegistryError = "RegistryError";
    public const string AnonymousListenRefused = "AnonymousListenRefused";
    public const string ListenFailed = "ListenFailed";
    public const string RedirectUnsupported = "RedirectUnsupported";
    public const string InvalidCertificate = "InvalidCertificate";
}
