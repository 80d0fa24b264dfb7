using S3lo.Core.Policy;

namespace S3lo.Core.Tests.Policy;

public class PolicyResolveTests
{
    private const string Patterns = """
        images:
          dev/*: { immutable: false }
          dev/a*: { immutable: true }
          dev/ab?: { lifecycle: { keep_last: 1 } }
          dev/a?c: { lifecycle: { keep_last: 2 } }
          dev/api: { lifecycle: { keep_last: 3 } }
          "*": { lifecycle: { keep_last: 4 } }
          "*/*/*": { lifecycle: { keep_last: 5 } }
        """;

    [Theory]
    [InlineData("dev/api", "dev/api")]    // exact beats every pattern, even a longer one
    [InlineData("dev/abc", "dev/a?c")]    // same length as dev/ab?: ordinal order, '?' (0x3F) < 'b' (0x62)
    [InlineData("dev/abd", "dev/ab?")]
    [InlineData("dev/axc", "dev/a?c")]
    [InlineData("dev/axe", "dev/a*")]     // longer pattern before shorter
    [InlineData("dev/x", "dev/*")]
    [InlineData("tools", "*")]
    [InlineData("a/b/c", "*/*/*")]
    [InlineData("dev/team/api", "*/*/*")] // neither dev/* nor dev/a*: '*' does not cross '/'
    [InlineData("org/app", null)]
    public void TheBestMatchingEntryApplies(string image, string? pattern)
        => Assert.Equal(pattern, ImagePattern.BestMatch(PolicyDocument.Parse(Patterns).Images.Select(i => i.Pattern), image));

    [Theory]
    [InlineData("dev/*", "dev", false)]
    [InlineData("dev/*", "dev/x", true)]
    [InlineData("dev/*", "dev/x/y", false)]
    [InlineData("dev/?", "dev/xy", false)]
    [InlineData("*-svc", "billing-svc", true)]
    [InlineData("a*b*c", "axxbyyc", true)]
    [InlineData("a*b*c", "axxbyy", false)]
    [InlineData("*/app", "org/app", true)]
    [InlineData("*/app", "app", false)]
    public void GlobsStayInsideOneComponent(string pattern, string name, bool matches)
        => Assert.Equal(matches, ImagePattern.Matches(pattern, name));

    [Fact]
    public void EachValueSaysWhereItCameFrom()
    {
        var document = PolicyDocument.Parse(PolicyRoundTripTests.FormatExample);

        var myapp = document.Resolve("myapp");
        Assert.Equal(new PolicyValue<bool>(true, PolicySource.Image, "myapp"), myapp.Immutable);
        Assert.Equal(new PolicyValue<int?>(10, PolicySource.Store, null), myapp.KeepLast);
        Assert.Equal(new PolicyValue<TimeSpan?>(TimeSpan.FromDays(90), PolicySource.Store, null), myapp.MaxAge);
        Assert.Equal("90d", myapp.MaxAgeText);
        Assert.Equal(PolicySource.Store, myapp.KeepTags.Source);
        Assert.Equal(["stable", "latest"], myapp.KeepTags.Value!);

        var dev = document.Resolve("dev/api");
        Assert.Equal(new PolicyValue<bool>(false, PolicySource.Store, null), dev.Immutable);
        Assert.Equal(new PolicyValue<int?>(3, PolicySource.Pattern, "dev/*"), dev.KeepLast);
        Assert.Equal(new PolicyValue<TimeSpan?>(TimeSpan.FromDays(7), PolicySource.Pattern, "dev/*"), dev.MaxAge);
        Assert.Equal("7d", dev.MaxAgeText);
        Assert.Equal(PolicySource.Store, dev.KeepTags.Source);
        Assert.Equal("dev/api", dev.ImageName);
    }

    [Fact]
    public void NothingSetIsTheBuiltInDefault()
    {
        var policy = PolicyDocument.Parse("").Resolve("app");
        Assert.Equal(new PolicyValue<bool>(false, PolicySource.Default, null), policy.Immutable);
        Assert.Equal(new PolicyValue<int?>(null, PolicySource.Default, null), policy.KeepLast);
        Assert.Equal(new PolicyValue<TimeSpan?>(null, PolicySource.Default, null), policy.MaxAge);
        Assert.Null(policy.KeepTags.Value);
        Assert.Equal(PolicySource.Default, policy.KeepTags.Source);
        Assert.Null(policy.MaxAgeText);
        Assert.False(policy.HasLifecycle);
    }

    [Fact]
    public void OnlyTheSingleBestEntryMerges()
    {
        // dev/a* sets immutable only; dev/* sets keep_last, but is not the best match and does not merge.
        var policy = PolicyDocument.Parse("""
            default: { lifecycle: { max_age: 30d } }
            images:
              dev/*: { lifecycle: { keep_last: 9 } }
              dev/a*: { immutable: true, lifecycle: { keep_tags: [] } }
            """).Resolve("dev/app");
        Assert.Equal(new PolicyValue<bool>(true, PolicySource.Pattern, "dev/a*"), policy.Immutable);
        Assert.Equal(PolicySource.Default, policy.KeepLast.Source);
        Assert.Equal(PolicySource.Store, policy.MaxAge.Source);
        Assert.Equal(new string[0], policy.KeepTags.Value!);
        Assert.Equal(PolicySource.Pattern, policy.KeepTags.Source);
    }

    [Fact]
    public void AnEntryCanTurnImmutabilityOff()
    {
        var policy = PolicyDocument.Parse("default: { immutable: true }\nimages: { scratch: { immutable: false } }\n").Resolve("scratch");
        Assert.Equal(new PolicyValue<bool>(false, PolicySource.Image, "scratch"), policy.Immutable);
    }

    [Fact]
    public void ResolvingAnInvalidNameIsInvalidName()
        => Assert.Equal(ErrorIds.InvalidName, Assert.Throws<S3loException>(() => PolicyDocument.Parse("").Resolve("Bad")).ErrorId);
}
