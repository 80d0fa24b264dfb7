using System.Management.Automation;
using S3lo.Core.Storage.Azure;
using S3lo.Core.Storage.S3;

namespace S3lo.PowerShell.Internal;

/// <summary>Base of the cmdlets that write objects into a store: the store connection, plus where written objects are kept
/// (storage classes on S3, access tiers on Azure), which only a write can use.</summary>
public abstract class StoreWriteCmdlet : StoreCmdlet
{
    /// <summary>The S3 storage class for blobs; default INTELLIGENT_TIERING on AWS, none on a custom endpoint.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(StorageClassCompleter))]
    public string? BlobStorageClass { get; set; }

    /// <summary>The S3 storage class for manifests and metadata; default STANDARD on AWS, none on a custom endpoint.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(StorageClassCompleter))]
    public string? ManifestStorageClass { get; set; }

    /// <summary>The Azure access tier for blobs and chunks: Hot, Cool (the default) or Cold.</summary>
    [Parameter]
    [ValidateSet("Hot", "Cool", "Cold")]
    public string? BlobTier { get; set; }

    /// <summary>The Azure access tier for manifests and metadata: Hot (the default), Cool or Cold.</summary>
    [Parameter]
    [ValidateSet("Hot", "Cool", "Cold")]
    public string? MetadataTier { get; set; }

    private protected override AzureConnectionOptions AzureConnection
    {
        get
        {
            var options = base.AzureConnection;
            return options with { BlobTier = BlobTier ?? options.BlobTier, MetadataTier = MetadataTier ?? options.MetadataTier };
        }
    }

    private protected override S3ConnectionOptions S3Connection
        => base.S3Connection with { BlobStorageClass = BlobStorageClass, ManifestStorageClass = ManifestStorageClass };
}
