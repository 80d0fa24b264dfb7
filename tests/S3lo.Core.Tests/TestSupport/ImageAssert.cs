using Xunit;
using S3lo.Core.Formats;
using S3lo.Core.IO;
using S3lo.Core.Oci;

namespace S3lo.Core.Tests.TestSupport;

public static class ImageAssert
{
    /// <summary>Reads every blob the source's root references (an index's children too) and checks each against its
    /// descriptor, as the push engine does; returns the bytes by digest.</summary>
    public static async Task<Dictionary<Digest, byte[]>> ReadAllBlobsAsync(IImageSource source)
    {
        var blobs = new Dictionary<Digest, byte[]>();
        async Task Walk(Manifest manifest)
        {
            foreach (var descriptor in manifest.References)
            {
                var bytes = await ReadBlobAsync(source, descriptor);
                blobs[descriptor.Digest] = bytes;
                if (MediaTypes.IsManifest(descriptor.MediaType)) await Walk(Manifest.Parse(bytes, descriptor.MediaType));
            }
        }
        await Walk(source.Root);
        return blobs;
    }

    public static async Task<byte[]> ReadBlobAsync(IImageSource source, Descriptor descriptor)
    {
        await using var verifying = new VerifyingReadStream(await source.OpenBlobAsync(descriptor, CancellationToken.None),
            descriptor.Digest, descriptor.Size, "blob " + descriptor.Digest);
        using var buffer = new MemoryStream();
        await verifying.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    /// <summary>Copies the source's single-platform image into the writer the way the save engine does: every blob
    /// verified, at most MaxConcurrentBlobWrites at once, then CompleteAsync with the root manifest.</summary>
    public static async Task CopyAsync(IImageSource source, IImageWriter writer)
    {
        await Parallel.ForEachAsync(source.Root.References.DistinctBy(d => d.Digest),
            new ParallelOptions { MaxDegreeOfParallelism = writer.MaxConcurrentBlobWrites },
            async (descriptor, ct) =>
            {
                await using var verifying = new VerifyingReadStream(await source.OpenBlobAsync(descriptor, ct),
                    descriptor.Digest, descriptor.Size, "blob " + descriptor.Digest);
                await writer.WriteBlobAsync(descriptor, verifying, ct);
            });
        await writer.CompleteAsync(source.Root, CancellationToken.None);
    }

    public static async Task<S3loException> ThrowsS3loAsync(string errorId, Func<Task> action)
    {
        var e = await Assert.ThrowsAsync<S3loException>(action);
        Assert.True(e.ErrorId == errorId, $"Expected error {errorId}, got {e.ErrorId}: {e.Message}");
        return e;
    }
}
