using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Transfer;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>Pushes an image from a docker-save archive, an OCI layout or an oci-archive into a store.</summary>
[Cmdlet(VerbsCommon.Push, "S3loImage", DefaultParameterSetName = ReferenceSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(PushResult))]
public sealed class PushS3loImageCommand : StoreCmdlet
{
    private const int ProgressActivityId = 5310;

    /// <summary>The archive file or OCI layout directory to push.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "Source")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Where to push: s3://bucket/name:tag or local://dir/name:tag.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = ReferenceSet)]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = StoreSet)]
    [ValidateNotNullOrEmpty]
    public string Store { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = StoreSet)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = StoreSet)]
    [ValidateNotNullOrEmpty]
    public string Tag { get; set; } = "";

    /// <summary>Which image of a layout or archive holding several (its org.opencontainers.image.ref.name).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SourceTag { get; set; }

    /// <summary>From a multi-platform source, push only this platform (such as linux/arm64) as a single-platform image.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Platform { get; set; }

    /// <summary>Overwrite the tag even when the image is immutable.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var destination = OrTerminate(() => (ParameterSetName == StoreSet ? FromParts(Store, Name, Tag) : ParseReference(Destination)).RequireTag("push"),
            ParameterSetName == StoreSet ? Store : Destination);
        var source = ResolvePath(Path);
        var platform = Platform is null ? null : OrTerminate(() => Core.Oci.Platform.Parse(Platform), Platform);
        if (!ShouldProcess(destination.ToString(), $"Push image from {source}")) return;

        var progress = CreateProgress(ProgressActivityId);
        Run(ct => PerItemAsync(destination, async () =>
        {
            var image = await ImageSources.OpenAsync(source, SourceTag, ct).ConfigureAwait(false);
            try
            {
                if (platform is not null) image = await PlatformImageSource.SelectAsync(image, platform, ct).ConfigureAwait(false);
                var store = await OpenStoreAsync(destination.Store, ct).ConfigureAwait(false);
                PostObject(await new ImagePusher(store).PushAsync(image, destination, Force, progress, ct).ConfigureAwait(false));
            }
            finally
            {
                await image.DisposeAsync().ConfigureAwait(false);
                progress.Complete();
            }
        }));
    }
}
