namespace S3lo.Core.Storage;

/// <summary>
/// A write that was started and never finished: a push killed or cut off mid-blob. A local store's temporary file, an
/// S3 multipart upload, an Azure blob with staged blocks and nothing committed. Nothing reads it, but it holds space.
/// </summary>
/// <param name="Key">The key the write was for, or for a local temporary file its own path under the store.</param>
/// <param name="Id">What the store needs to abort it (the S3 upload id, the temporary file's name).</param>
/// <param name="Size">Bytes held, where the store says so cheaply (0 for S3 uploads, whose parts are not listed).</param>
/// <param name="Started">When the write started or last wrote, by the store's clock.</param>
public sealed record IncompleteWrite(string Key, string Id, long Size, DateTimeOffset Started);

/// <summary>
/// An optional ability of an object store (the local, S3 and Azure stores have it): listing and aborting the writes
/// left unfinished, which ordinary listings do not show. Garbage collection aborts those older than its grace period.
/// </summary>
public interface IIncompleteWrites
{
    IAsyncEnumerable<IncompleteWrite> ListIncompleteWritesAsync(CancellationToken cancellationToken);

    /// <summary>Aborts one unfinished write if it is still as listed; false when it finished, went on or was gone.</summary>
    Task<bool> AbortIncompleteWriteAsync(IncompleteWrite write, CancellationToken cancellationToken);
}
