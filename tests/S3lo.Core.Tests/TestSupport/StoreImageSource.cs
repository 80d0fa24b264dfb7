using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>A stored tag as a push source, enough for the registry push tests until the engine has its own.</summary>
public sealed class StoreImageSource(ImageStore store, TagManifest tag) : IImageSource
{
    public string Description => $"{store.Location}{tag.Name}:{tag.Tag}";
    public Manifest Root => tag.Manifest;

    public async Task<Stream> OpenBlobAsync(Descriptor descriptor, CancellationToken cancellationToken)
        => await store.OpenBlobAsync(descriptor, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
