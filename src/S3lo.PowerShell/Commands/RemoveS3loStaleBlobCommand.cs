using System.Management.Automation;
using S3lo.Core.Gc;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>
/// Garbage collection: removes the blobs no tag references (through index children, configs and layers)
/// that are older than the grace period by the store's clock. With -WhatIf, lists what would go.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "S3loStaleBlob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(SweptBlob))]
public sealed class RemoveS3loStaleBlobCommand : StoreCmdlet
{
    /// <summary>The store (s3://bucket/, local://./images/, or a directory path).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Store { get; set; } = "";

    /// <summary>Unreferenced blobs younger than this are kept (they may belong to a push in progress): a TimeSpan or 1h, 30m, 2d.</summary>
    [Parameter]
    [DurationTransformation]
    public TimeSpan GracePeriod { get; set; } = TimeSpan.FromHours(1);

    protected override void ProcessRecord()
    {
        var location = OrTerminate(() => ParseStore(Store), Store);
        if (ShouldCollect(location, GracePeriod, out var whatIf)) CollectBlobs(location, GracePeriod, whatIf, PostObject);
    }
}
