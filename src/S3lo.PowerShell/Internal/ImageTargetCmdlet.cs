using System.Management.Automation;
using S3lo.Core.Catalog;
using S3lo.Core.Oci;

namespace S3lo.PowerShell.Internal;

/// <summary>
/// Base of the cmdlets that act on images already in a store, declaring once how they are named: references
/// (<c>s3://bucket/app:v1</c>, <c>…/app@sha256:…</c>), the parts -Store, -Name and -Tag or -Digest, or images piped from
/// Get-S3loImage (which keep their store connection).
/// </summary>
public abstract class ImageTargetCmdlet : StoreCmdlet
{
    /// <summary>The images: s3://bucket/name:tag, az://container/name:tag, local://dir/name:tag, or name@sha256:… in place of a tag.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ReferenceSet, ValueFromPipeline = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string[] Reference { get; set; } = [];

    /// <summary>The store, when the image is given in parts: s3://bucket/, az://container/, local://dir/ or a directory path.</summary>
    [Parameter(Mandatory = true, ParameterSetName = StoreSet)]
    [ValidateNotNullOrEmpty]
    public string Store { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = StoreSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>With -Store and -Name: the tag (or give -Digest).</summary>
    [Parameter(ParameterSetName = StoreSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageTagCompleter))]
    public string? Tag { get; set; }

    /// <summary>With -Store and -Name: a manifest digest, sha256:…, in place of a tag.</summary>
    [Parameter(ParameterSetName = StoreSet)]
    [ValidateNotNullOrEmpty]
    public string? Digest { get; set; }

    /// <summary>Images from Get-S3loImage.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public ImageInfo[] InputObject { get; set; } = [];

    /// <summary>The images this record names, each with a tag or a digest; anything malformed is a terminating error.</summary>
    protected IReadOnlyList<ImageReference> ResolveTargets(string action) => ResolveImages(action, InputObject, Reference, () => FromParts(Store, Name, Tag, Digest));
}
