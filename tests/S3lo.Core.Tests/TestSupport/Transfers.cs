using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Transfer;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>The transfers tests make most often, through the one engine the cmdlets use.</summary>
internal static class Transfers
{
    /// <summary>A push: <paramref name="source"/> into the tag <paramref name="name"/>:<paramref name="tag"/> of <paramref name="store"/>.</summary>
    public static async Task<TransferResult> PushAsync(IImageSource source, ImageStore store, string name, string tag, bool force = false)
    {
        await using var destination = new StoreDestination(store, ImageReference.Create(store.Location, name, tag, null), force);
        return await ImageTransfer.CopyAsync(source, destination, null, null, default);
    }

    /// <summary>A save: one platform (the host's from an index) of a stored image into a file format.</summary>
    public static async Task<TransferResult> SaveAsync(ImageStore store, ImageReference reference, ImageFormat format, string path, string? imageName)
    {
        await using var destination = ImageWriterDestination.Create(format, path, imageName, overwrite: false);
        await using var source = await StoreImageSource.OpenAsync(store, reference, Platform.Host, default);
        return await ImageTransfer.CopyAsync(source, destination, null, null, default);
    }
}
