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
/// Copies an image from one store to another, or to another name or tag, from a registry into a store, or from
/// a store to a registry: only the blobs the destination lacks move, each checked against its digest; within
/// one store nothing but the manifest is written.
/// </summary>
[Cmdlet(VerbsCommon.Copy, "S3loImage", DefaultParameterSetName = ReferenceSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(PushResult))]
public sealed class CopyS3loImageCommand : StoreCmdlet
{
    private const int ProgressActivityId = 5313;

    /// <summary>The image to copy: s3://bucket/name:tag, local://dir/name:tag, or a digest reference.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ReferenceSet, ValueFromPipeline = true)]
    [ValidateNotNullOrEmpty]
    public string Source { get; set; } = "";

    /// <summary>An image from Get-S3loImage (it keeps its own store connection).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public ImageInfo? InputObject { get; set; }

    /// <summary>Where to copy to: s3://bucket/name:tag or local://dir/name:tag.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>From a multi-platform image, copy only this platform (such as linux/arm64) as a single-platform image.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Platform { get; set; }

    /// <summary>User name and password (or token) for the registry; default: what `docker login` stored in ~/.docker/config.json.</summary>
    [Parameter]
    [Credential]
    public PSCredential? RegistryCredential { get; set; }

    /// <summary>Overwrite the destination tag even when that image is immutable.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var fromRegistry = InputObject is null && IsRegistry(Source);
        var toRegistry = IsRegistry(Destination);
        if (fromRegistry && toRegistry)
            ThrowTerminating(new S3loException(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
                $"Copying from a registry to a registry is not supported; one side must be a store (s3:// or local://).", Destination), Destination);
        var platform = Platform is null ? null : OrTerminate(() => Core.Oci.Platform.Parse(Platform), Platform);
        if (!ShouldProcess(Destination, $"Copy image from {InputObject?.Reference ?? Source}")) return;

        var progress = CreateProgress(ProgressActivityId);
        if (fromRegistry)
        {
            var from = OrTerminate(() => RegistryReference.Parse(Source), Source);
            var to = OrTerminate(() => ParseReference(Destination).RequireTag("copy an image to"), Destination);
            RunWithProgress(to, progress, async ct =>
            {
                using var client = RegistryClient.For(from, RegistryOptions());
                await using var image = await RegistryImageSource.OpenAsync(client, from, platform, ct).ConfigureAwait(false);
                var store = await OpenStoreAsync(to.Store, ct).ConfigureAwait(false);
                PostObject(await new ImagePusher(store).PushAsync(image, to, Force, progress, ct).ConfigureAwait(false));
            });
            return;
        }

        var source = ResolveImages("copy an image", InputObject is null ? [] : [InputObject], [Source], () => throw new InvalidOperationException())[0];
        if (toRegistry)
        {
            var to = OrTerminate(() => RegistryReference.Parse(Destination), Destination);
            // Docker would read a bare name as :latest; a copy names its tag, as everywhere else in S3lo.
            var last = Destination[(Destination.LastIndexOf('/') + 1)..];
            if (!last.Contains(':') && !last.Contains('@'))
                ThrowTerminating(new S3loException(ErrorIds.TagRequired, S3loErrorKind.InvalidArgument,
                    $"'{Destination}' needs a tag to copy an image to, for example {Destination}:v1.", Destination), Destination);
            RunWithProgress(to, progress, async ct =>
            {
                var store = await OpenStoreAsync(source.Store, ct).ConfigureAwait(false);
                await using var image = await StoreImageSource.OpenAsync(store, source, platform, ct).ConfigureAwait(false);
                using var client = RegistryClient.For(to, RegistryOptions());
                PostObject(await RegistryPusher.PushAsync(client, to, image, progress, ct).ConfigureAwait(false));
                if (await ImageCopier.HasSignaturesAsync(store, image, ct).ConfigureAwait(false))
                    PostWarning($"The signature records of {source} were not copied: a registry does not keep them.");
            });
            return;
        }

        var destination = OrTerminate(() => ParseReference(Destination).RequireTag("copy an image to"), Destination);
        RunWithProgress(destination, progress, async ct =>
        {
            var from = await OpenStoreAsync(source.Store, ct).ConfigureAwait(false);
            var to = await OpenStoreAsync(destination.Store, ct).ConfigureAwait(false);
            var (result, _, signaturesDropped) = await new ImageCopier(from, to).CopyAsync(source, destination, platform, Force, progress, ct)
                .ConfigureAwait(false);
            if (signaturesDropped)
                PostWarning($"The signature records of {source} were not copied: they sign the whole manifest, and {destination} holds one platform of it.");
            PostObject(result);
        });
    }

    // An s3:// or local:// reference is never one: IsRegistryReference refuses any text with "://".
    private static bool IsRegistry(string reference) => RegistryReference.IsRegistryReference(reference);

    private RegistryClientOptions RegistryOptions() => new()
    {
        Credentials = RegistryCredential is null ? null : new RegistryCredentials(RegistryCredential.UserName, RegistryCredential.GetNetworkCredential().Password),
    };
}
