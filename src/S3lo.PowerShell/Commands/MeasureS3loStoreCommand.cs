using System.Management.Automation;
using S3lo.Core.Health;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>
/// Measures a store: tags, images, logical and stored bytes, dedup and object counts, with a monthly cost estimate beside
/// that of a registry that does not dedup; -ByImage one row per image, -Layers the layers several tags share.
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "S3loStore", DefaultParameterSetName = StoreSet)]
[OutputType(typeof(StoreStatistics), ParameterSetName = [StoreSet])]
[OutputType(typeof(ImageStatistics), ParameterSetName = [ByImageSet])]
[OutputType(typeof(SharedLayer), ParameterSetName = [LayersSet])]
public sealed class MeasureS3loStoreCommand : StoreCmdlet
{
    private const string ByImageSet = "ByImage";
    private const string LayersSet = "Layers";
    private const int ActivityId = 5314;
    private static readonly StorePrices Defaults = new();

    /// <summary>The store (s3://bucket/, az://container/, local://./images/, or a directory path).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Store { get; set; } = "";

    /// <summary>One row per image instead of one for the store.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ByImageSet)]
    public SwitchParameter ByImage { get; set; }

    /// <summary>The layers more than one tag uses, with those tags.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LayersSet)]
    public SwitchParameter Layers { get; set; }

    /// <summary>US dollars per GB-month for S3 stores (and local ones).</summary>
    [Parameter]
    [ValidateRange(0.0, 1000000.0)]
    public decimal S3StandardPricePerGB { get; set; } = Defaults.S3StandardPerGB;

    /// <summary>US dollars per GB-month for the metadata of Azure stores.</summary>
    [Parameter]
    [ValidateRange(0.0, 1000000.0)]
    public decimal AzureHotPricePerGB { get; set; } = Defaults.AzureHotPerGB;

    /// <summary>US dollars per GB-month for the blobs and chunks of Azure stores.</summary>
    [Parameter]
    [ValidateRange(0.0, 1000000.0)]
    public decimal AzureCoolPricePerGB { get; set; } = Defaults.AzureCoolPerGB;

    /// <summary>US dollars per GB-month of the registry without dedup shown beside the store.</summary>
    [Parameter]
    [ValidateRange(0.0, 1000000.0)]
    public decimal EcrPricePerGB { get; set; } = Defaults.EcrPerGB;

    protected override void ProcessRecord()
    {
        var location = OrTerminate(() => ParseStore(Store), Store);
        var prices = new StorePrices
        {
            S3StandardPerGB = S3StandardPricePerGB, AzureHotPerGB = AzureHotPricePerGB, AzureCoolPerGB = AzureCoolPricePerGB, EcrPerGB = EcrPricePerGB,
        };
        var progress = CreateProgress<StoreMeasureProgress>(ActivityId,
            p => ($"Measuring {location}", $"{p.ObjectsListed} objects listed, {p.TagsRead} tag{(p.TagsRead == 1 ? "" : "s")} read", -1));
        RunOnStoreOrTerminate(location, progress, async (store, ct) =>
        {
            var measured = await new StoreMeasurer(store).MeasureAsync(prices, progress,
                (tag, e) => PostError(Errors.ForItem(e, $"{location}{tag}")), ct).ConfigureAwait(false);
            IEnumerable<object> rows = ParameterSetName switch
            {
                ByImageSet => measured.Images,
                LayersSet => measured.SharedLayers,
                _ => [measured.Store],
            };
            foreach (var row in rows) PostObject(row);
        });
    }
}
