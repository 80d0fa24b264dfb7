using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using S3lo.Core.Policy;
using S3lo.Core.Storage;

namespace S3lo.Core.Catalog;

/// <summary>A tag with what the store's lifecycle policy does with it; pipes to Remove-S3loImage like any listed image.</summary>
public sealed record LifecyclePlanItem : ImageInfo
{
    [SetsRequiredMembers]
    public LifecyclePlanItem(ImageInfo image, LifecycleDecision decision) : base(image)
    {
        Action = decision.Action;
        Reason = decision.Reason;
    }

    public LifecycleAction Action { get; }
    public string Reason { get; }
}

/// <summary>Applies a store's s3lo.yaml lifecycle rules to its tags.</summary>
public sealed class LifecyclePlanner(ImageStore store)
{
    /// <summary>
    /// The decision for every tag of the images that pass the filters, image by image. Ages are measured
    /// against the store's clock, like the LastModified times they compare.
    /// </summary>
    public async IAsyncEnumerable<LifecyclePlanItem> PlanAsync(string namePrefix, Func<string, bool> nameFilter,
        Action<TagEntry, S3loException>? onTagError, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var policy = await new PolicyStore(store.Objects).ReadAsync(cancellationToken).ConfigureAwait(false);
        var now = await store.Objects.GetClockAsync(cancellationToken).ConfigureAwait(false);
        // An image's tags are not contiguous in key order (app:v1 sorts beside the tags of app/v1), so the
        // listing is grouped whole before deciding.
        var images = new SortedDictionary<string, List<ImageInfo>>(StringComparer.Ordinal);
        await foreach (var image in new ImageCatalog(store).ListAsync(namePrefix, nameFilter, _ => true, onTagError, cancellationToken).ConfigureAwait(false))
        {
            if (!images.TryGetValue(image.Name, out var tags)) images[image.Name] = tags = [];
            tags.Add(image);
        }
        foreach (var (name, tags) in images)
        {
            var byTag = tags.ToDictionary(t => t.Tag, StringComparer.Ordinal);
            foreach (var decision in Lifecycle.Plan(tags.Select(t => (t.Tag, t.LastModified)), policy.Resolve(name), now))
                yield return new LifecyclePlanItem(byTag[decision.Tag], decision);
        }
    }
}
