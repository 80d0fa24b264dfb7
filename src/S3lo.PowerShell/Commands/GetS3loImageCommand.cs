using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Catalog;
using S3lo.Core.Oci;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>Lists the tags of a store, one object per tag, streamed as the listing proceeds.</summary>
[Cmdlet(VerbsCommon.Get, "S3loImage")]
[OutputType(typeof(ImageInfo))]
public sealed class GetS3loImageCommand : StoreCmdlet
{
    /// <summary>The store (s3://bucket/, local://./images/, or a directory path); an image reference narrows to that image or tag.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Store { get; set; } = "";

    /// <summary>Image names to list; wildcards allowed.</summary>
    [Parameter(Position = 1)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Tags to list; wildcards allowed.</summary>
    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageTagCompleter))]
    public string[]? Tag { get; set; }

    protected override void ProcessRecord()
    {
        // A reference is a store, or an image (and a tag or digest) that narrows the listing; anything else is a directory path.
        var reference = ImageReference.LooksLikeReference(Store) ? OrTerminate(() => ParseReference(Store), Store) : null;
        var location = reference is null ? OrTerminate(() => ParseStore(Store), Store) : reference.Store;
        var names = Name;
        var tags = Tag;
        if (reference is { IsStoreOnly: false } image)
        {
            // The reference narrows the listing itself, so a -Name or -Tag beside it would contradict or repeat it.
            if (Name is not null || (Tag is not null && image.Tag is not null))
                ThrowTerminating(new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                    $"'{Store}' names an image{(image.Tag is null ? "" : " and a tag")} already, so -Name{(image.Tag is null ? "" : " and -Tag")} cannot be given with it; "
                    + $"give the store ({image.Store}) to filter by -Name and -Tag.", Store), Store);
            names = [WildcardPattern.Escape(image.Name!)];
            if (image.Tag is not null) tags = [WildcardPattern.Escape(image.Tag)];
        }
        var digest = reference?.Digest;

        var (prefix, nameMatch) = NameFilter.From(names);
        var tagMatch = NameFilter.Matcher(tags);
        Run(ct => PerItemAsync(location, async () =>
        {
            var store = await OpenStoreAsync(location, ct).ConfigureAwait(false);
            var images = new ImageCatalog(store).ListAsync(prefix, nameMatch, tagMatch, TagError(location), ct);
            await foreach (var info in images.ConfigureAwait(false))
            {
                // A digest in the reference keeps the tags whose manifest has it.
                if (digest is null || info.Digest == digest.ToString()) PostObject(info);
            }
        }));
    }
}
