using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Catalog;
using S3lo.Core.Oci;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>Shows the manifest of an image or index: config, layers, platforms, annotations and raw JSON.</summary>
[Cmdlet(VerbsCommon.Get, "S3loManifest", DefaultParameterSetName = ReferenceSet)]
[OutputType(typeof(ManifestInfo))]
public sealed class GetS3loManifestCommand : ImageTargetCmdlet
{
    /// <summary>For an index, show the manifest of this platform (such as linux/arm64) instead of the index.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImagePlatformCompleter))]
    public string? Platform { get; set; }

    protected override void ProcessRecord()
    {
        var platform = Platform is null ? null : OrTerminate(() => Core.Oci.Platform.Parse(Platform), Platform);
        var references = ResolveTargets("show a manifest");

        Run(async ct =>
        {
            foreach (var reference in references)
            {
                await PerItemAsync(reference, async () =>
                {
                    var store = await OpenStoreAsync(reference.Store, ct).ConfigureAwait(false);
                    PostObject(await new ImageCatalog(store).InspectAsync(reference, platform, ct).ConfigureAwait(false));
                }).ConfigureAwait(false);
            }
        });
    }
}
