using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Catalog;
using S3lo.Core.Oci;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>Deletes tags from a store: exactly each tag's own objects; blobs stay for garbage collection.</summary>
[Cmdlet(VerbsCommon.Remove, "S3loImage", DefaultParameterSetName = ReferenceSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(ImageInfo))]
public sealed class RemoveS3loImageCommand : ImageTargetCmdlet
{
    /// <summary>Write each removed image to the pipeline.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Remove the tag even when the image is immutable.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        // Piped images are removed as they were listed: a tag pushed again since then is kept (TagChanged).
        if (ParameterSetName == InputObjectSet)
        {
            foreach (var image in InputObject) RemoveTag(image);
            return;
        }

        foreach (var reference in ResolveTargets("remove an image"))
        {
            IReadOnlyList<ImageInfo> tags = [];
            Run(ct => PerItemAsync(reference, async () =>
            {
                var store = await OpenStoreAsync(reference.Store, ct).ConfigureAwait(false);
                tags = await new ImageCatalog(store).FindTagsAsync(reference, ct).ConfigureAwait(false);
            }));
            foreach (var tag in tags) RemoveTag(tag);
        }
    }

    private void RemoveTag(ImageInfo tag)
    {
        // Asked here, on the pipeline thread, with the tag itself as the target.
        if (!ShouldProcess(tag.Reference, tag.Kind == ImageKind.Unknown ? "Remove unreadable image" : $"Remove image {tag.Digest}")) return;
        Run(ct => PerItemAsync(tag.Reference, async () =>
        {
            var store = await OpenStoreAsync(tag.Location, ct).ConfigureAwait(false);
            await new ImageCatalog(store).RemoveAsync(tag, Force, ct).ConfigureAwait(false);
            if (PassThru) PostObject(tag);
        }));
    }
}
