using System.Management.Automation;
using S3lo.Core.Oci;
using S3lo.Core.Policy;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>Shows a store's s3lo.yaml as objects, or with -Name the effective policy of one image.</summary>
[Cmdlet(VerbsCommon.Get, "S3loPolicy", DefaultParameterSetName = FileSet)]
[OutputType(typeof(PolicyEntry), ParameterSetName = [FileSet])]
[OutputType(typeof(EffectivePolicyInfo), ParameterSetName = [ImageSet])]
public sealed class GetS3loPolicyCommand : StoreCmdlet
{
    private const string FileSet = "File";
    private const string ImageSet = "Image";

    /// <summary>The store (s3://bucket/, local://./images/, or a directory path).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Store { get; set; } = "";

    /// <summary>An image name: show the policy that applies to it and where each value comes from.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = ImageSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageNameCompleter))]
    public string Name { get; set; } = "";

    protected override void ProcessRecord()
    {
        var location = OrTerminate(() => ParseStore(Store), Store);
        if (ParameterSetName == ImageSet) OrTerminate(() => { ImageName.ValidateName(Name); return Name; }, Name);
        Run(ct => PerItemAsync(location, async () =>
        {
            var store = await OpenStoreAsync(location, ct).ConfigureAwait(false);
            var document = await new PolicyStore(store.Objects).ReadAsync(ct).ConfigureAwait(false);
            if (ParameterSetName == ImageSet)
            {
                PostObject(EffectivePolicyInfo.From(document.Resolve(Name), location));
                return;
            }
            foreach (var entry in PolicyEntry.From(document, location)) PostObject(entry);
        }));
    }
}
