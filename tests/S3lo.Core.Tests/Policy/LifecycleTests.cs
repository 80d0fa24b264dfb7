using S3lo.Core.Policy;

namespace S3lo.Core.Tests.Policy;

public class LifecycleTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    // Tags v1 (oldest, 50 days) … v5 (newest, 10 days), plus stable (40 days) and latest (1 day).
    private static readonly (string Tag, DateTimeOffset LastModified)[] Tags =
    [
        ("v1", Now.AddDays(-50)), ("latest", Now.AddDays(-1)), ("v3", Now.AddDays(-30)), ("stable", Now.AddDays(-40)),
        ("v2", Now.AddDays(-45)), ("v5", Now.AddDays(-10)), ("v4", Now.AddDays(-20)),
    ];

    private static string[] Plan(string policy, IEnumerable<(string, DateTimeOffset)>? tags = null)
        => Lifecycle.Plan(tags ?? Tags, PolicyDocument.Parse(policy).Resolve("app"), Now)
            .Select(d => $"{d.Tag} {d.Action} {d.Reason}").ToArray();

    public static TheoryData<string, string[]> Rules => new()
    {
        {
            "",
            ["latest Keep no lifecycle policy", "v5 Keep no lifecycle policy", "v4 Keep no lifecycle policy", "v3 Keep no lifecycle policy",
             "stable Keep no lifecycle policy", "v2 Keep no lifecycle policy", "v1 Keep no lifecycle policy"]
        },
        {
            // keep_tags alone removes nothing
            "default: { lifecycle: { keep_tags: [stable] } }",
            ["latest Keep no lifecycle policy", "v5 Keep no lifecycle policy", "v4 Keep no lifecycle policy", "v3 Keep no lifecycle policy",
             "stable Keep no lifecycle policy", "v2 Keep no lifecycle policy", "v1 Keep no lifecycle policy"]
        },
        {
            "default: { immutable: true, lifecycle: { keep_last: 1 } }",
            ["latest Keep immutable", "v5 Keep immutable", "v4 Keep immutable", "v3 Keep immutable",
             "stable Keep immutable", "v2 Keep immutable", "v1 Keep immutable"]
        },
        {
            "default: { lifecycle: { keep_last: 3 } }",
            ["latest Keep within keep_last 3", "v5 Keep within keep_last 3", "v4 Keep within keep_last 3", "v3 Remove beyond keep_last 3",
             "stable Remove beyond keep_last 3", "v2 Remove beyond keep_last 3", "v1 Remove beyond keep_last 3"]
        },
        {
            "default: { lifecycle: { keep_last: 0 } }",
            ["latest Remove beyond keep_last 0", "v5 Remove beyond keep_last 0", "v4 Remove beyond keep_last 0", "v3 Remove beyond keep_last 0",
             "stable Remove beyond keep_last 0", "v2 Remove beyond keep_last 0", "v1 Remove beyond keep_last 0"]
        },
        {
            // keep_tags do not count towards keep_last
            "default: { lifecycle: { keep_last: 2, keep_tags: [latest, stable] } }",
            ["latest Keep kept tag", "v5 Keep within keep_last 2", "v4 Keep within keep_last 2", "v3 Remove beyond keep_last 2",
             "stable Keep kept tag", "v2 Remove beyond keep_last 2", "v1 Remove beyond keep_last 2"]
        },
        {
            // max_age alone: keep_last counts as 0
            "default: { lifecycle: { max_age: 25d } }",
            ["latest Keep within max_age 25d", "v5 Keep within max_age 25d", "v4 Keep within max_age 25d", "v3 Remove older than 25d",
             "stable Remove older than 25d", "v2 Remove older than 25d", "v1 Remove older than 25d"]
        },
        {
            // both: the newest keep_last are kept whatever their age; beyond them only old tags go
            "default: { lifecycle: { keep_last: 2, max_age: 600h } }",
            ["latest Keep within keep_last 2", "v5 Keep within keep_last 2", "v4 Keep within max_age 600h", "v3 Remove older than 600h, beyond keep_last 2",
             "stable Remove older than 600h, beyond keep_last 2", "v2 Remove older than 600h, beyond keep_last 2", "v1 Remove older than 600h, beyond keep_last 2"]
        },
        {
            "default: { lifecycle: { keep_last: 1, max_age: 1d, keep_tags: [v1] } }",
            ["latest Keep within keep_last 1", "v5 Remove older than 1d, beyond keep_last 1", "v4 Remove older than 1d, beyond keep_last 1",
             "v3 Remove older than 1d, beyond keep_last 1", "stable Remove older than 1d, beyond keep_last 1",
             "v2 Remove older than 1d, beyond keep_last 1", "v1 Keep kept tag"]
        },
        {
            // keep_last larger than the number of tags
            "default: { lifecycle: { keep_last: 10, max_age: 1d } }",
            ["latest Keep within keep_last 10", "v5 Keep within keep_last 10", "v4 Keep within keep_last 10", "v3 Keep within keep_last 10",
             "stable Keep within keep_last 10", "v2 Keep within keep_last 10", "v1 Keep within keep_last 10"]
        },
        {
            // an image entry's lifecycle overrides the default's field by field
            "default: { lifecycle: { keep_last: 1, max_age: 1d } }\nimages: { app: { lifecycle: { max_age: 35d } } }",
            ["latest Keep within keep_last 1", "v5 Keep within max_age 35d", "v4 Keep within max_age 35d", "v3 Keep within max_age 35d",
             "stable Remove older than 35d, beyond keep_last 1", "v2 Remove older than 35d, beyond keep_last 1", "v1 Remove older than 35d, beyond keep_last 1"]
        },
        {
            // an image entry can lift immutability for a store that is immutable by default
            "default: { immutable: true, lifecycle: { keep_last: 6 } }\nimages: { app: { immutable: false } }",
            ["latest Keep within keep_last 6", "v5 Keep within keep_last 6", "v4 Keep within keep_last 6", "v3 Keep within keep_last 6",
             "stable Keep within keep_last 6", "v2 Keep within keep_last 6", "v1 Remove beyond keep_last 6"]
        },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void FollowsTheFormatRules(string policy, string[] expected) => Assert.Equal(expected, Plan(policy));

    [Fact]
    public void ATagExactlyMaxAgeOldIsKept()
    {
        var tags = new[] { ("exact", Now.AddDays(-7)), ("older", Now.AddDays(-7).AddTicks(-1)) };
        Assert.Equal(["exact Keep within max_age 7d", "older Remove older than 7d"], Plan("default: { lifecycle: { max_age: 7d } }", tags));
    }

    [Fact]
    public void EqualTimesAreOrderedByOrdinalTagName()
    {
        var same = Now.AddDays(-3);
        var tags = new[] { ("b", same), ("B", same), ("a", same), ("c", Now) };
        Assert.Equal(["c Keep within keep_last 2", "B Keep within keep_last 2", "a Remove beyond keep_last 2", "b Remove beyond keep_last 2"],
            Plan("default: { lifecycle: { keep_last: 2 } }", tags));
    }

    [Fact]
    public void ATagFromTheFutureIsNotOld()
        => Assert.Equal(["next Keep within max_age 1d"], Plan("default: { lifecycle: { max_age: 1d } }", [("next", Now.AddHours(5))]));

    [Fact]
    public void NoTagsNoDecisions() => Assert.Empty(Plan("default: { lifecycle: { keep_last: 1 } }", []));

    [Fact]
    public void DecisionsCarryTheTagsTime()
    {
        var decision = Lifecycle.Plan(Tags, PolicyDocument.Parse("").Resolve("app"), Now)[0];
        Assert.Equal(new LifecycleDecision("latest", Now.AddDays(-1), LifecycleAction.Keep, "no lifecycle policy"), decision);
    }

    [Fact]
    public void APolicyBuiltInCodeNamesItsMaxAgeInGoNotation()
    {
        var policy = new EffectivePolicy("app",
            new PolicyValue<bool>(false, PolicySource.Default, null),
            new PolicyValue<int?>(null, PolicySource.Default, null),
            new PolicyValue<TimeSpan?>(TimeSpan.FromHours(36), PolicySource.Store, null),
            new PolicyValue<IReadOnlyList<string>>(null, PolicySource.Default, null));
        Assert.Equal("older than 36h", Lifecycle.Plan([("old", Now.AddDays(-2))], policy, Now).Single().Reason);
    }
}
