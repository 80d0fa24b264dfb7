using System.Diagnostics;
using S3lo.Core.Catalog;
using S3lo.Core.Formats;
using S3lo.Core.IO;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Transfer;

/// <summary>What a save wrote.</summary>
public sealed record SaveResult
{
    public required string Reference { get; init; }
    public required string Path { get; init; }
    public required ImageFormat Format { get; init; }
    public required string Digest { get; init; }
    public string? Platform { get; init; }
    public long BytesWritten { get; init; }
    public TimeSpan Duration { get; init; }
}

/// <summary>
/// Saves one image (one platform of an index) from a store into an <see cref="IImageWriter"/>: every
/// blob is read through a digest check, and the writer moves its output into place only when all of
/// them passed.
/// </summary>
public sealed class ImageSaver(ImageStore store)
{
    public async Task<SaveResult> SaveAsync(ImageReference reference, Platform? platform, IImageWriter writer, string path, ImageFormat format,
        IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var resolved = await ImageResolver.ResolveAsync(store, reference, cancellationToken).ConfigureAwait(false);
        var (manifest, chosen) = await ImageResolver.SelectPlatformAsync(store, resolved.Manifest, platform, cancellationToken).ConfigureAwait(false);
        var blobs = manifest.References.DistinctBy(d => d.Digest).ToList();
        var total = blobs.Sum(b => b.Size);
        var counter = new ByteProgress(progress, $"Saving {reference}", $"{blobs.Count} blobs to {path}", total);

        await Parallel.ForEachAsync(blobs, writer.MaxConcurrentBlobWrites, cancellationToken, async (blob, ct) =>
        {
            await using var verified = await store.OpenBlobAsync(blob, ct).ConfigureAwait(false);
            await using var counted = new CountingReadStream(verified, counter.Add);
            await writer.WriteBlobAsync(blob, counted, ct).ConfigureAwait(false);
            // A writer may stop at the declared size; reading on to the end is what runs the digest check.
            await verified.DrainAndVerifyAsync(ct).ConfigureAwait(false);
        }).ConfigureAwait(false);

        await writer.CompleteAsync(manifest, cancellationToken).ConfigureAwait(false);
        return new SaveResult
        {
            Reference = reference.ToString(),
            Path = path,
            Format = format,
            Digest = manifest.Digest.ToString(),
            Platform = chosen?.ToString(),
            BytesWritten = counter.Done,
            Duration = clock.Elapsed,
        };
    }
}
