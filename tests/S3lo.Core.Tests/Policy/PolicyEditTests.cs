using S3lo.Core.Policy;

namespace S3lo.Core.Tests.Policy;

public class PolicyEditTests
{
    private static PolicyDocument Example() => PolicyDocument.Parse(PolicyRoundTripTests.FormatExample);

    private static string Edited(string yaml, Action<PolicyDocument> edit)
    {
        var document = PolicyDocument.Parse(yaml);
        edit(document);
        var text = document.ToYaml();
        Assert.Equal(text, PolicyDocument.Parse(text).ToYaml());
        return text;
    }

    [Fact]
    public void ChangingAValueChangesOnlyItsLineAndKeepsTheTrailingComment()
    {
        var document = Example();
        document.Set(PolicyScope.Store, PolicyKey.KeepLast, 20);
        Assert.Equal("""
            default:                 # applies to every image
              immutable: false
              lifecycle:
                keep_last: 20        # integer >= 0
                max_age: 90d         # <int>d, or a Go-style duration like 168h, 30m
                keep_tags: [stable, latest]
            images:                  # per-image overrides; keys are names or glob patterns
              myapp:
                immutable: true
              dev/*:                 # '*' and '?' do not cross '/'
                lifecycle: { keep_last: 3, max_age: 7d }
            chunked: true            # bucket-wide; absent = true
            chunk_format: 1          # written by the first chunked push; never edited by hand

            """, document.ToYaml());
        Assert.Equal(20, document.Default.KeepLast);
    }

    [Fact]
    public void EditsInsideAFlowMappingKeepItAFlowMapping()
    {
        var document = Example();
        document.Set(PolicyScope.Image("dev/*"), PolicyKey.MaxAge, TimeSpan.FromHours(36));
        document.Set(PolicyScope.Image("dev/*"), PolicyKey.KeepTags, new[] { "main" });
        Assert.Equal(PolicyRoundTripTests.FormatExample.Replace(
            "{ keep_last: 3, max_age: 7d }", "{ keep_last: 3, max_age: 36h, keep_tags: [main] }"), document.ToYaml());

        document.Unset(PolicyScope.Image("dev/*"), PolicyKey.KeepLast);
        Assert.Equal(PolicyRoundTripTests.FormatExample.Replace(
            "{ keep_last: 3, max_age: 7d }", "{ max_age: 36h, keep_tags: [main] }"), document.ToYaml());
        document.Unset(PolicyScope.Image("dev/*"), PolicyKey.KeepTags);
        Assert.Equal(PolicyRoundTripTests.FormatExample.Replace(
            "{ keep_last: 3, max_age: 7d }", "{ max_age: 36h }"), document.ToYaml());
    }

    [Fact]
    public void UnsettingTheLastLifecycleKeyOfAnEntryRemovesTheEntry()
    {
        var document = Example();
        Assert.True(document.Unset(PolicyScope.Image("dev/*"), PolicyKey.KeepLast));
        Assert.True(document.Unset(PolicyScope.Image("dev/*"), PolicyKey.MaxAge));
        Assert.Equal("""
            default:                 # applies to every image
              immutable: false
              lifecycle:
                keep_last: 10        # integer >= 0
                max_age: 90d         # <int>d, or a Go-style duration like 168h, 30m
                keep_tags: [stable, latest]
            images:                  # per-image overrides; keys are names or glob patterns
              myapp:
                immutable: true
            chunked: true            # bucket-wide; absent = true
            chunk_format: 1          # written by the first chunked push; never edited by hand

            """, document.ToYaml());
        Assert.Equal(["myapp"], document.Images.Select(i => i.Pattern));
        Assert.False(document.Unset(PolicyScope.Image("dev/*"), PolicyKey.MaxAge));
    }

    [Fact]
    public void UnsettingTheLastLifecycleKeyRemovesLifecycleAndEmptySectionsGo()
    {
        var text = Edited("""
            # store policy
            default:
              immutable: true   # everything is immutable
              lifecycle:
                keep_last: 3
            images:
              app:
                immutable: false
            chunked: false

            """, d =>
        {
            d.Unset(PolicyScope.Store, PolicyKey.KeepLast);
            d.Unset(PolicyScope.Image("app"), PolicyKey.Immutable);
        });
        Assert.Equal("""
            # store policy
            default:
              immutable: true   # everything is immutable
            chunked: false

            """, text);
    }

    [Fact]
    public void UnsettingAKeyThatIsNotSetChangesNothing()
    {
        var document = Example();
        Assert.False(document.Unset(PolicyScope.Image("myapp"), PolicyKey.KeepTags));
        Assert.False(document.Unset(PolicyScope.Image("other"), PolicyKey.Immutable));
        Assert.False(document.RemoveScope(PolicyScope.Image("other")));
        Assert.Equal(PolicyRoundTripTests.FormatExample, document.ToYaml());
    }

    [Fact]
    public void AnEntryWithUnknownKeysStaysWhenItsPolicyKeysGo()
    {
        var text = Edited("images:\n  app:\n    owner: me\n    immutable: true\n", d => d.Unset(PolicyScope.Image("app"), PolicyKey.Immutable));
        Assert.Equal("images:\n  app:\n    owner: me\n", text);
    }

    [Fact]
    public void SetCreatesTheSectionsItNeeds()
    {
        var text = Edited("", d =>
        {
            d.Set(PolicyScope.Store, PolicyKey.KeepLast, 10);
            d.Set(PolicyScope.Store, PolicyKey.MaxAge, "90d");
            d.Set(PolicyScope.Store, PolicyKey.KeepTags, new[] { "stable", "latest" });
            d.Set(PolicyScope.Store, PolicyKey.Immutable, false);
            d.Set(PolicyScope.Image("myapp"), PolicyKey.Immutable, true);
            d.Set(PolicyScope.Image("dev/*"), PolicyKey.KeepLast, 3);
            d.Set(PolicyScope.Store, PolicyKey.Chunked, false);
        });
        Assert.Equal("""
            default:
              lifecycle:
                keep_last: 10
                max_age: 90d
                keep_tags: [stable, latest]
              immutable: false
            images:
              myapp:
                immutable: true
              dev/*:
                lifecycle:
                  keep_last: 3
            chunked: false

            """, text);
    }

    [Fact]
    public void NewSectionsFollowTheFilesIndentationAndLineEndings()
    {
        var text = Edited("# policy\r\ndefault:\r\n    immutable: true\r\nchunked: true", d =>
        {
            d.Set(PolicyScope.Store, PolicyKey.KeepLast, 2);
            d.Set(PolicyScope.Image("*/tools"), PolicyKey.Immutable, false);
        });
        Assert.Equal("# policy\r\ndefault:\r\n    immutable: true\r\n    lifecycle:\r\n        keep_last: 2\r\nchunked: true\r\n" +
                     "images:\r\n    \"*/tools\":\r\n        immutable: false\r\n", text);
    }

    [Fact]
    public void SetFillsAnEmptySection()
    {
        Assert.Equal("default:   # later\n  immutable: true\nchunked: true\n",
            Edited("default:   # later\nchunked: true\n", d => d.Set(PolicyScope.Store, PolicyKey.Immutable, true)));
        Assert.Equal("images:\n  app:\n    lifecycle:\n      keep_last: 1\n",
            Edited("images:\n  app: ~\n", d => d.Set(PolicyScope.Image("app"), PolicyKey.KeepLast, 1)));
        Assert.Equal("images: { app: { lifecycle: { keep_last: 1 } } }\n",
            Edited("images: { app: }\n", d => d.Set(PolicyScope.Image("app"), PolicyKey.KeepLast, 1)));
        Assert.Equal("default: { immutable: true }\n",
            Edited("default: {}\n", d => d.Set(PolicyScope.Store, PolicyKey.Immutable, true)));
    }

    [Fact]
    public void SettingAnEmptyValueFillsItInPlace()
        => Assert.Equal("default:\n  immutable: true  # fill me\n",
            Edited("default:\n  immutable:  # fill me\n", d => d.Set(PolicyScope.Store, PolicyKey.Immutable, true)));

    [Fact]
    public void ABlockListStaysABlockList()
    {
        const string yaml = "default:\n    lifecycle:\n        keep_tags:   # exempt from pruning\n            - stable\n            - \"1.0\"  # LTS\n        keep_last: 5\n";
        Assert.Equal("default:\n    lifecycle:\n        keep_tags:   # exempt from pruning\n            - stable\n            - latest\n            - \"1.0\"  # LTS\n        keep_last: 5\n",
            Edited(yaml, d => d.Set(PolicyScope.Store, PolicyKey.KeepTags, new[] { "stable", "latest", "1.0" })));
        Assert.Equal("default:\n    lifecycle:\n        keep_tags: []   # exempt from pruning\n        keep_last: 5\n",
            Edited(yaml, d => d.Set(PolicyScope.Store, PolicyKey.KeepTags, Array.Empty<string>())));
        Assert.Equal("default:\n    lifecycle:\n        keep_last: 5\n",
            Edited(yaml, d => d.Unset(PolicyScope.Store, PolicyKey.KeepTags)));
    }

    [Fact]
    public void RemoveScopeTakesTheWholeSection()
    {
        var document = Example();
        Assert.True(document.RemoveScope(PolicyScope.Store));
        Assert.True(document.RemoveScope(PolicyScope.Image("myapp")));
        Assert.Equal("""
            images:                  # per-image overrides; keys are names or glob patterns
              dev/*:                 # '*' and '?' do not cross '/'
                lifecycle: { keep_last: 3, max_age: 7d }
            chunked: true            # bucket-wide; absent = true
            chunk_format: 1          # written by the first chunked push; never edited by hand

            """, document.ToYaml());
        Assert.True(document.RemoveScope(PolicyScope.Image("dev/*")));
        Assert.Equal("""
            chunked: true            # bucket-wide; absent = true
            chunk_format: 1          # written by the first chunked push; never edited by hand

            """, document.ToYaml());
        Assert.Same(ImagePolicy.Empty, document.Default);
    }

    [Fact]
    public void ChunkedIsTopLevelAndOnlyForTheStore()
    {
        var document = Example();
        document.Set(PolicyScope.Store, PolicyKey.Chunked, false);
        Assert.Equal(PolicyRoundTripTests.FormatExample.Replace("chunked: true", "chunked: false"), document.ToYaml());
        Assert.False(document.Chunked);
        var error = Assert.Throws<S3loException>(() => document.Set(PolicyScope.Image("myapp"), PolicyKey.Chunked, true));
        Assert.Equal(ErrorIds.InvalidPolicy, error.ErrorId);
        Assert.Equal(ErrorIds.InvalidPolicy, Assert.Throws<S3loException>(() => document.Unset(PolicyScope.Image("myapp"), PolicyKey.Chunked)).ErrorId);
        Assert.True(document.Unset(PolicyScope.Store, PolicyKey.Chunked));
        Assert.Null(document.Chunked);
    }

    [Fact]
    public void ValuesAreWrittenTheWayS3loWritesThem()
    {
        var text = Edited("", d =>
        {
            d.Set(PolicyScope.Image("a"), PolicyKey.MaxAge, TimeSpan.FromDays(90));
            d.Set(PolicyScope.Image("b"), PolicyKey.MaxAge, TimeSpan.FromHours(36));
            d.Set(PolicyScope.Image("c"), PolicyKey.MaxAge, "1h30m");
            d.Set(PolicyScope.Image("d"), PolicyKey.KeepTags, new List<string> { "v1.0", "true", "10", "latest" });
            d.Set(PolicyScope.Image("e"), PolicyKey.KeepTags, "stable");
            d.Set(PolicyScope.Image("f"), PolicyKey.KeepLast, 0L);
        });
        Assert.Equal("""
            images:
              a:
                lifecycle:
                  max_age: 90d
              b:
                lifecycle:
                  max_age: 36h
              c:
                lifecycle:
                  max_age: 1h30m
              d:
                lifecycle:
                  keep_tags: [v1.0, "true", "10", latest]
              e:
                lifecycle:
                  keep_tags: [stable]
              f:
                lifecycle:
                  keep_last: 0

            """, text);
        var document = PolicyDocument.Parse(text);
        Assert.Equal(["v1.0", "true", "10", "latest"], document.Images[3].Policy.KeepTags!);
        Assert.Equal("1h30m", document.Images[2].Policy.MaxAgeText);
        Assert.Equal(TimeSpan.FromMinutes(90), document.Images[2].Policy.MaxAge);
    }

    public static TheoryData<PolicyKey, object> BadValues => new()
    {
        { PolicyKey.Immutable, "yes" },
        { PolicyKey.KeepLast, -1 },
        { PolicyKey.KeepLast, 2.5 },
        { PolicyKey.KeepLast, "10" },
        { PolicyKey.MaxAge, "90 days" },
        { PolicyKey.MaxAge, "-5m" },
        { PolicyKey.MaxAge, TimeSpan.FromHours(-1) },
        { PolicyKey.KeepTags, new[] { "ok", "-bad" } },
        { PolicyKey.KeepTags, 5 },
        { PolicyKey.Chunked, 1 },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void BadValuesAreRefusedAndTheFileIsUntouched(PolicyKey key, object value)
    {
        var document = Example();
        var error = Assert.Throws<S3loException>(() => document.Set(PolicyScope.Store, key, value));
        Assert.Equal(ErrorIds.InvalidPolicy, error.ErrorId);
        Assert.Equal(S3loErrorKind.InvalidArgument, error.Kind);
        Assert.Equal(PolicyRoundTripTests.FormatExample, document.ToYaml());
    }

    [Theory]
    [InlineData("App")]
    [InlineData("dev/")]
    [InlineData("/dev")]
    [InlineData("dev//*")]
    [InlineData("dev/[ab]")]
    [InlineData("dev/../*")]
    [InlineData("")]
    public void InvalidPatternsAreRefused(string pattern)
    {
        var error = Assert.Throws<S3loException>(() => PolicyScope.Image(pattern));
        Assert.Equal(ErrorIds.InvalidPolicy, error.ErrorId);
    }
}
