using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Catalog;
using S3lo.Core.Formats;
using S3lo.Core.Registry;
using S3lo.Core.Oci;
using S3lo.Core.Transfer;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>
/// Copies an image from one store to another, or to another name or tag, between a store and a registry either way,
/// or from a registry to a registry: only the blobs the destination lacks move, each checked against its digest;
/// within one store nothing but the manifest is written.
/// </summary>
[Cmdlet(VerbsCommon.Copy, "S3loImage", DefaultParameterSetName = ReferenceSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(TransferResult))]
public sealed class CopyS3loImageCommand : StoreWriteCmdlet
{
    private const int ProgressActivityId = 5313;

    /// <summary>The image to copy: s3://bucket/name:tag, local://dir/name:tag, or a digest reference.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ReferenceSet, ValueFromPipeline = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Source { get; set; } = "";

    /// <summary>An image from Get-S3loImage (it keeps its own store connection).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public ImageInfo? InputObject { get; set; }

    /// <summary>Where to copy to: s3://bucket/name:tag, local://dir/name:tag, or a registry reference with a tag.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Destination { get; set; } = "";

    /// <summary>From a multi-platform image, copy only this platform (such as linux/arm64) as a single-platform image.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImagePlatformCompleter))]
    public string? Platform { get; set; }

    /// <summary>User name and password (or token) for the registry, or both registries; default: what `docker login` stored in ~/.docker/config.json.</summary>
    [Parameter]
    [Credential]
    public PSCredential? RegistryCredential { get; set; }

    /// <summary>Overwrite the destination tag even when that image is immutable.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Into a store: by default layers keep their form (chunked layers move as chunks, whole ones stay whole).
    /// -Chunked stores whole layers of 1 MiB or more chunked (when the store's policy allows), which changes the image's
    /// digest; -Chunked:$false stores every layer whole.</summary>
    [Parameter]
    public SwitchParameter Chunked { get; set; }

    private LayerChunking Chunking => !MyInvocation.BoundParameters.ContainsKey(nameof(Chunked))
        ? LayerChunking.Keep
        : Chunked ? LayerChunking.Chunk : LayerChunking.Whole;

    protected override void ProcessRecord()
    {
        var fromRegistry = InputObject is null && IsRegistry(Source);
        var toRegistry = IsRegistry(Destination);
        var platform = Platform is null ? null : OrTerminate(() => Core.Oci.Platform.Parse(Platform), Platform);
        var registrySource = fromRegistry ? OrTerminate(() => RegistryReference.Parse(Source), Source) : null;
        var storeSource = fromRegistry ? null
            : ResolveImages("copy an image", InputObject is null ? [] : [InputObject], [Source], () => throw new InvalidOperationException())[0];
        var registryDestination = toRegistry ? ParseRegistryDestination() : null;
        var storeDestination = toRegistry ? null : OrTerminate(() => ParseReference(Destination).RequireTag("copy an image to"), Destination);
        if (!ShouldProcess(Destination, $"Copy image from {InputObject?.Reference ?? Source}")) return;

        var progress = CreateProgress(ProgressActivityId);
        if (storeSource is not null && storeDestination is not null)
        {
            CopyBetweenStores(storeSource, storeDestination, platform, progress);
            return;
        }
        object target = registryDestination is null ? storeDestination! : registryDestination;
        RunWithProgress(target, progress, async ct =>
        {
            using var sourceClient = registrySource is null ? null : RegistryClient.For(registrySource, RegistryOptions());
            // Within one registry one client serves both sides, and authenticates once.
            using var destinationClient = registryDestination is null || registryDestination.Registry == registrySource?.Registry
                ? null
                : RegistryClient.For(registryDestination, RegistryOptions());
            var sourceStore = storeSource is null ? null : await OpenStoreAsync(storeSource.Store, ct).ConfigureAwait(false);
            await using IImageSource image = sourceStore is null
                ? await RegistryImageSource.OpenAsync(sourceClient!, registrySource!, platform, ct).ConfigureAwait(false)
                : await StoreImageSource.OpenAsync(sourceStore, storeSource!, platform, ct).ConfigureAwait(false);
            await using IImageDestination destination = registryDestination is not null
                ? new RegistryDestination(destinationClient ?? sourceClient!, registryDestination)
                : new StoreDestination(await OpenStoreAsync(storeDestination!.Store, ct).ConfigureAwait(false), storeDestination, Force, Chunking);
            var result = await ImageTransfer.CopyAsync(image, destination, null, progress, ct).ConfigureAwait(false);
            WarnIfDigestChanged(image.Root.Digest.ToString(), result);
            PostObject(result);
            if (image is StoreImageSource stored && await ImageCopier.HasSignaturesAsync(sourceStore!, stored, ct).ConfigureAwait(false))
                PostWarning($"The signature records of {storeSource} were not copied: a registry does not keep them.");
        });
    }

    private void CopyBetweenStores(ImageReference source, ImageReference destination, Platform? platform, ProgressSink<TransferProgress> progress)
        => RunWithProgress(destination, progress, async ct =>
        {
            var from = await OpenStoreAsync(source.Store, ct).ConfigureAwait(false);
            var to = await OpenStoreAsync(destination.Store, ct).ConfigureAwait(false);
            var (result, _, signaturesDropped) = await new ImageCopier(from, to).CopyAsync(source, destination, platform, Force, progress, ct, Chunking)
                .ConfigureAwait(false);
            WarnIfDigestChanged(null, result);
            if (signaturesDropped)
                PostWarning($"The signature records of {source} were not copied: they sign the whole manifest, and {destination} holds one platform of it.");
            PostObject(result);
        });

    /// <summary>Chunking layers gives them, and so the manifest, new digests: said once, so scripts pinning a digest know.</summary>
    private void WarnIfDigestChanged(string? sourceDigest, TransferResult result)
    {
        if (result.ChunksUploaded + result.ChunksReused == 0 || Chunking != LayerChunking.Chunk) return;
        if (sourceDigest is not null && sourceDigest == result.Digest) return;
        PostWarning($"Layers were stored chunked: {result.Reference} has the digest {result.Digest}, not the source's{(sourceDigest is null ? "" : " " + sourceDigest)}.");
    }

    /// <summary>Docker would read a bare name as :latest; a copy names its tag, as everywhere else in S3lo.</summary>
    private RegistryReference ParseRegistryDestination()
    {
        var to = OrTerminate(() => RegistryReference.Parse(Destination), Destination);
        var last = Destination[(Destination.LastIndexOf('/') + 1)..];
        if (!last.Contains(':') && !last.Contains('@'))
            ThrowTerminating(new S3loException(ErrorIds.TagRequired, S3loErrorKind.InvalidArgument,
                $"'{Destination}' needs a tag to copy an image to, for example {Destination}:v1.", Destination), Destination);
        return to;
    }

    // An s3:// or local:// reference is never one: IsRegistryReference refuses any text with "://".
    private static bool IsRegistry(string reference) => RegistryReference.IsRegistryReference(reference);

    private RegistryClientOptions RegistryOptions() => new()
    {
        Credentials = RegistryCredential is null ? null : new RegistryCredentials(RegistryCredential.UserName, RegistryCredential.GetNetworkCredential().Password),
    };
}
