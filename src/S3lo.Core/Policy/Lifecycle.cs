using S3lo.Core.Oci;

namespace S3lo.Core.Policy;

public enum LifecycleAction
{
    Keep,
    Remove,
}

/// <summary>What a prune does with one tag, and why, in words a person reads in a -WhatIf listing.</summary>
public sealed record LifecycleDecision(string Tag, DateTimeOffset LastModified, LifecycleAction Action, string Reason);

/// <summary>The lifecycle rules of docs/format.md ("Lifecycle rules"): which tags of one image a prune removes.</summary>
public static class Lifecycle
{
    /// <summary>
    /// One decision per tag of the image <paramref name="policy"/> applies to (<see cref="EffectivePolicy.ImageName"/>),
    /// newest first by LastModified; tags modified at the same instant are ordered by ordinal tag name so the same
    /// listing always gives the same plan. A tag exactly max_age old is kept: only tags older than max_age go.
    /// </summary>
    public static IReadOnlyList<LifecycleDecision> Plan(IEnumerable<(string Tag, DateTimeOffset LastModified)> tags, EffectivePolicy policy,
        DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ImageName.ValidateName(policy.ImageName);
        ArgumentNullException.ThrowIfNull(tags);
        var sorted = tags.OrderByDescending(t => t.LastModified).ThenBy(t => t.Tag, StringComparer.Ordinal).ToList();

        if (!policy.HasLifecycle) return sorted.Select(t => Keep(t, "no lifecycle policy")).ToList();
        if (policy.Immutable.Value) return sorted.Select(t => Keep(t, "immutable")).ToList();

        var exempt = new HashSet<string>(policy.KeepTags.Value ?? [], StringComparer.Ordinal);
        var keepLast = policy.KeepLast.Value;
        var maxAge = policy.MaxAge.Value;
        var maxAgeText = policy.MaxAgeText ?? (maxAge is { } age ? PolicyDuration.Format(age) : null);
        var counted = 0;
        var decisions = new List<LifecycleDecision>(sorted.Count);
        foreach (var tag in sorted)
        {
            if (exempt.Contains(tag.Tag))
            {
                decisions.Add(Keep(tag, "kept tag"));
                continue;
            }
            counted++;
            if (counted <= (keepLast ?? 0))
                decisions.Add(Keep(tag, $"within keep_last {keepLast}"));
            else if (maxAge is null)
                decisions.Add(Remove(tag, $"beyond keep_last {keepLast}"));
            else if (now - tag.LastModified > maxAge)
                decisions.Add(Remove(tag, keepLast is null ? $"older than {maxAgeText}" : $"older than {maxAgeText}, beyond keep_last {keepLast}"));
            else
                decisions.Add(Keep(tag, $"within max_age {maxAgeText}"));
        }
        return decisions;
    }

    private static LifecycleDecision Keep((string Tag, DateTimeOffset LastModified) tag, string reason)
        => new(tag.Tag, tag.LastModified, LifecycleAction.Keep, reason);

    private static LifecycleDecision Remove((string Tag, DateTimeOffset LastModified) tag, string reason)
        => new(tag.Tag, tag.LastModified, LifecycleAction.Remove, reason);
}
