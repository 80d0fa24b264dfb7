using System.Management.Automation;
using S3lo.Core.Catalog;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>
/// Previews what the store's lifecycle policy (s3lo.yaml) does with every tag: one object per tag with
/// Action (Keep or Remove) and Reason. The objects pipe to Remove-S3loImage.
/// </summary>
[Cmdlet(VerbsCommon.Get, "S3loLifecyclePlan")]
[OutputType(typeof(LifecyclePlanItem))]
public sealed class GetS3loLifecyclePlanCommand : StoreCmdlet
{
    /// <summary>The store (s3://bucket/, local://./images/, or a directory path).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Store { get; set; } = "";

    /// <summary>Image names to plan for; wildcards allowed. Default: every image.</summary>
    [Parameter(Position = 1)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageNameCompleter))]
    public string[]? Name { get; set; }

    protected override void ProcessRecord()
    {
        var location = OrTerminate(() => ParseStore(Store), Store);
        var (prefix, nameMatch) = NameFilter.From(Name);
        Run(ct => PerItemAsync(location, async () =>
        {
            var store = await OpenStoreAsync(location, ct).ConfigureAwait(false);
            var plan = new LifecyclePlanner(store).PlanAsync(prefix, nameMatch, TagError(location), ct);
            await foreach (var item in plan.ConfigureAwait(false)) PostObject(item);
        }));
    }
}
