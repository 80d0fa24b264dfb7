namespace S3lo.Core.Storage;

/// <summary>
/// An optional ability of an object store (the local, S3 and Azure stores have it): reading an object from a byte offset
/// without reading what comes before it (a seek, or a ranged GET). The server answers Range requests with it.
/// </summary>
public interface IRangedReads
{
    /// <summary>Streams <paramref name="length"/> bytes of an object from <paramref name="offset"/> (fewer where the object
    /// ends first), and asks the store for no more; <see cref="ObjectNotFoundException"/> when it does not exist.</summary>
    Task<Stream> OpenReadAsync(string key, long offset, long length, CancellationToken cancellationToken);
}

/// <summary>
/// An optional ability of an object store (the S3 and Azure stores have it): a URL that lets whoever holds it read one
/// object, and nothing else, until it expires (an S3 presigned URL, an Azure SAS). The server's -Redirect hands these out.
/// </summary>
public interface IPresignedReads
{
    /// <summary>Why this store, as it was opened, cannot sign reads (e.g. Azure with a SAS token of its own); null when it can.</summary>
    string? PresignUnavailableReason { get; }

    /// <summary>A URL that reads <paramref name="key"/> for <paramref name="validFor"/>. It does not check that the object exists.</summary>
    Task<Uri> PresignReadAsync(string key, TimeSpan validFor, CancellationToken cancellationToken);
}
