using S3lo.Core.Policy;

namespace S3lo.Core.Tests.Policy;

public class PolicyRoundTripTests
{
    // docs/format.md, "s3lo.yaml", verbatim.
    internal const string FormatExample = """
        default:                 # applies to every image
          immutable: false
          lifecycle:
            keep_last: 10        # integer >= 0
            max_age: 90d         # <int>d, or a Go-style duration like 168h, 30m
            keep_tags: [stable, latest]
        images:                  # per-image overrides; keys are names or glob patterns
          myapp:
            immutable: true
          dev/*:                 # '*' and '?' do not cross '/'
            lifecycle: { keep_last: 3, max_age: 7d }
        chunked: true            # bucket-wide; absent = true
        chunk_format: 1          # written by the first chunked push; never edited by hand

        """;

    // How Go's yaml.v3 marshals the s3lo config (4-space indent, block lists), with comments added by hand.
    private const string GoStyle = """
        # s3lo store configuration
        default:
            immutable: false
            lifecycle:
                keep_last: 5
                keep_tags:
                    - stable
                    - "1.0"
        images:
            # the API is released from CI
            org/api:
                immutable: true
        chunked: false
        chunk_format: 1

        """;

    private const string Unknown = """
        version: 3              # unknown top-level key
        notify:
          slack: "#releases"
          on: [prune, push]
        default:
          owner: platform-team  # unknown in default
          immutable: false
          lifecycle:
            keep_last: 4
            dry_run: true       # unknown in lifecycle
            schedule: { cron: "0 3 * * *", tz: UTC }
        images:
          'app?':
            note: >
              folded text that
              spans lines
            lifecycle: {keep_last: 1, extra: [a, b]}
          "dev/*":
            labels:
              - team=dev
        x-extension: &anchor
          nested: {deep: {deeper: 1}}

        """;

    [Theory]
    [InlineData(FormatExample)]
    [InlineData(GoStyle)]
    [InlineData(Unknown)]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    [InlineData("chunked: true")]
    [InlineData("default: {immutable: true, lifecycle: {keep_last: 2}}\n")]
    [InlineData("\uFEFFdefault:\r\n  immutable: true\r\n")]
    [InlineData("---\ndefault:\n  immutable: true\n...\n")]
    [InlineData("default:\nimages:\n  app: ~\n")]
    public void AnUneditedDocumentComesBackByteForByte(string yaml)
        => Assert.Equal(yaml, PolicyDocument.Parse(yaml).ToYaml());

    [Fact]
    public void NullIsAnEmptyDocument()
    {
        var document = PolicyDocument.Parse(null);
        Assert.Equal("", document.ToYaml());
        Assert.Same(ImagePolicy.Empty, document.Default);
        Assert.Empty(document.Images);
        Assert.Null(document.Chunked);
        Assert.Null(document.ChunkFormat);
    }

    [Fact]
    public void TheFormatExampleReadsAsWritten()
    {
        var document = PolicyDocument.Parse(FormatExample);
        Assert.Equal(false, document.Default.Immutable);
        Assert.Equal(10, document.Default.KeepLast);
        Assert.Equal(TimeSpan.FromDays(90), document.Default.MaxAge);
        Assert.Equal("90d", document.Default.MaxAgeText);
        Assert.Equal(["stable", "latest"], document.Default.KeepTags!);
        Assert.Equal(["myapp", "dev/*"], document.Images.Select(i => i.Pattern));
        Assert.Equal(true, document.Images[0].Policy.Immutable);
        Assert.Null(document.Images[0].Policy.KeepLast);
        Assert.Equal(3, document.Images[1].Policy.KeepLast);
        Assert.Equal(TimeSpan.FromDays(7), document.Images[1].Policy.MaxAge);
        Assert.Null(document.Images[1].Policy.Immutable);
        Assert.True(document.Chunked);
        Assert.Equal(1, document.ChunkFormat);
    }

    [Fact]
    public void GoStyleBlockListsAndQuotedItemsRead()
    {
        var document = PolicyDocument.Parse(GoStyle);
        Assert.Equal(["stable", "1.0"], document.Default.KeepTags!);
        Assert.Equal(5, document.Default.KeepLast);
        Assert.False(document.Chunked);
        Assert.Equal(true, document.Images.Single(i => i.Pattern == "org/api").Policy.Immutable);
    }

    [Fact]
    public void UnknownKeysAreIgnoredForReadingAndKeptThroughEdits()
    {
        var document = PolicyDocument.Parse(Unknown);
        Assert.Equal(4, document.Default.KeepLast);
        Assert.Equal(1, document.Images.Single(i => i.Pattern == "app?").Policy.KeepLast);

        document.Set(PolicyScope.Store, PolicyKey.KeepLast, 6);
        document.Set(PolicyScope.Image("app?"), PolicyKey.MaxAge, TimeSpan.FromHours(36));
        document.Set(PolicyScope.Image("dev/*"), PolicyKey.Immutable, true);
        Assert.Equal(Unknown
            .Replace("    keep_last: 4\n", "    keep_last: 6\n")
            .Replace("{keep_last: 1, extra: [a, b]}", "{keep_last: 1, extra: [a, b], max_age: 36h}")
            .Replace("      - team=dev\n", "      - team=dev\n    immutable: true\n"),
            document.ToYaml());
    }
}
