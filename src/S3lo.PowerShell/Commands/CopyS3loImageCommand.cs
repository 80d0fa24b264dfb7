using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Catalog;
using S3lo.Core.Oci;
using S3lo.Core.Transfer;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>
/// Copies an image from one store to another, or to another name or tag: only the blobs the destination
/// lacks move, each checked against its digest; within one store nothing but the manifest is written.
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

    /// <summary>Overwrite the destination tag even when that image is immutable.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var from = ResolveImages("copy an image", InputObject is null ? [] : [InputObject], [Source], () => throw new InvalidOperationException())[0];
        var to = OrTerminate(() => ParseReference(Destination).RequireTag("copy an image to"), Destination);
        var platform = Platform is null ? null : OrTerminate(() => Core.Oci.Platform.Parse(Platform), Platform);
        if (!ShouldProcess(to.ToString(), $"Copy image from {from}")) return;

        var progress = CreateProgress(ProgressActivityId);
        Run(ct => PerItemAsync(to, async () =>
        {
            try
            {
                var source = await OpenStoreAsync(from.Store, ct).ConfigureAwait(false);
                var destination = await OpenStoreAsync(to.Store, ct).ConfigureAwait(false);
                var (result, _, signaturesDropped) = await new ImageCopier(source, destination).CopyAsync(from, to, platform, Force, progress, ct)
                    .ConfigureAwait(false);
                if (signaturesDropped)
                    PostWarning($"The signature records of {from} were not copied: they sign the whole manifest, and {to} holds one platform of it.");
                PostObject(result);
            }
            finally
            {
                progress.Complete();
            }
        }));
    }
}
