using System.Diagnostics;
using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Catalog;
using S3lo.Core.Gc;
using S3lo.Core.Policy;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>What Invoke-S3loLifecycle did.</summary>
public sealed record LifecycleSummary(string Store, int TagsEvaluated, int TagsRemoved, long BlobsRemoved, long BytesFreed, long SkippedRecent, TimeSpan Duration);

/// <summary>
/// Applies the store's lifecycle policy: removes the tags Get-S3loLifecyclePlan marks Remove, then removes
/// the blobs nothing references any more (as Remove-S3loStaleBlob). Honours -WhatIf and -Confirm for each.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "S3loLifecycle", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(LifecycleSummary))]
public sealed class InvokeS3loLifecycleCommand : StoreCmdlet
{
    /// <summary>The store (s3://bucket/, local://./images/, or a directory path).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Store { get; set; } = "";

    /// <summary>Image names to prune; wildcards allowed. Default: every image. Blob collection is always store-wide.</summary>
    [Parameter(Position = 1)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Unreferenced blobs younger than this are kept: a TimeSpan or 1h, 30m, 2d.</summary>
    [Parameter]
    [DurationTransformation]
    public TimeSpan GracePeriod { get; set; } = TimeSpan.FromHours(1);

    protected override void ProcessRecord()
    {
        var location = OrTerminate(() => ParseStore(Store), Store);
        var (prefix, nameMatch) = NameFilter.From(Name);
        var clock = Stopwatch.StartNew();
        var plan = new List<LifecyclePlanItem>();
        var planned = false;
        Run(ct => PerItemAsync(location, async () =>
        {
            var store = await OpenStoreAsync(location, ct).ConfigureAwait(false);
            var items = new LifecyclePlanner(store).PlanAsync(prefix, nameMatch, TagError(location), ct);
            await foreach (var item in items.ConfigureAwait(false)) plan.Add(item);
            planned = true;
        }));
        // A store whose policy or listing cannot be read is left alone: no pruning, no collection.
        if (!planned) return;

        var removed = 0;
        foreach (var item in plan.Where(i => i.Action == LifecycleAction.Remove))
        {
            if (!ShouldProcess(item.Reference, $"Remove image ({item.Reason})")) continue;
            Run(ct => PerItemAsync(item.Reference, async () =>
            {
                var store = await OpenStoreAsync(location, ct).ConfigureAwait(false);
                try
                {
                    await new ImageCatalog(store).RemoveAsync(item, force: false, ct).ConfigureAwait(false);
                    Interlocked.Increment(ref removed);
                }
                catch (S3loException e) when (e.ErrorId == ErrorIds.TagChanged)
                {
                    // Pushed again since the plan was made: the new image is not what the policy judged, so it stays.
                    PostWarning(e.Message);
                }
            }));
        }

        GcProgress? last = null;
        long blobs = 0, bytes = 0;
        if (ShouldCollect(location, GracePeriod, out var whatIf))
        {
            last = CollectBlobs(location, GracePeriod, whatIf, blob =>
            {
                blobs++;
                bytes += blob.Size;
            });
        }
        WriteObject(new LifecycleSummary(location.ToString(), plan.Count, removed, blobs, bytes, last?.SkippedRecent ?? 0, clock.Elapsed));
    }
}
