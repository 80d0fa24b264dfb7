using S3lo.Core.Policy;

namespace S3lo.Core.Tests.Policy;

public class PolicyValidationTests
{
    [Theory]
    [InlineData("default:\n  lifecycle:\n    keep_last: -1\n", "default.lifecycle.keep_last", 3)]
    [InlineData("default:\n  lifecycle:\n    keep_last: ten\n", "default.lifecycle.keep_last", 3)]
    [InlineData("default:\n  lifecycle:\n    keep_last: \"10\"\n", "default.lifecycle.keep_last", 3)]
    [InlineData("default:\n  lifecycle:\n    keep_last: 1.5\n", "default.lifecycle.keep_last", 3)]
    [InlineData("default:\n  lifecycle:\n    max_age: 90\n", "default.lifecycle.max_age", 3)]
    [InlineData("default:\n  lifecycle:\n    max_age: 1d12h\n", "default.lifecycle.max_age", 3)]
    [InlineData("default:\n  lifecycle:\n    max_age: -3h\n", "default.lifecycle.max_age", 3)]
    [InlineData("default:\n  lifecycle:\n    max_age: [1d]\n", "default.lifecycle.max_age", 3)]
    [InlineData("default:\n  immutable: maybe\n", "default.immutable", 2)]
    [InlineData("default:\n  immutable: tRUE\n", "default.immutable", 2)]
    [InlineData("default:\n  immutable: 'true'\n", "default.immutable", 2)]
    [InlineData("default:\n  lifecycle:\n    keep_tags: stable\n", "default.lifecycle.keep_tags", 3)]
    [InlineData("default:\n  lifecycle:\n    keep_tags: [stable, -bad]\n", "default.lifecycle.keep_tags", 3)]
    [InlineData("default:\n  lifecycle: 5\n", "default.lifecycle", 2)]
    [InlineData("default: [a]\n", "default", 1)]
    [InlineData("images:\n  app:\n    lifecycle: { keep_last: x }\n", "images[app].lifecycle.keep_last", 3)]
    [InlineData("images:\n  dev/*:\n    immutable: 1\n", "images[dev/*].immutable", 3)]
    [InlineData("images:\n  ok: {}\n  Bad/App: {}\n", "images[Bad/App]", 3)]
    [InlineData("images:\n  \"dev/[ab]\": {}\n", "images[dev/[ab]]", 2)]
    [InlineData("images: [app]\n", "images", 1)]
    [InlineData("chunked: sometimes\n", "chunked", 1)]
    [InlineData("chunk_format: one\n", "chunk_format", 1)]
    [InlineData("default:\n  immutable: true\n  immutable: false\n", "default.immutable", 3)]
    public void BadValuesNameTheKeyPathAndLine(string yaml, string path, int line)
    {
        var error = Assert.Throws<S3loException>(() => PolicyDocument.Parse(yaml));
        Assert.Equal(ErrorIds.InvalidPolicy, error.ErrorId);
        Assert.Equal(S3loErrorKind.InvalidData, error.Kind);
        Assert.Equal(path, error.Target);
        Assert.StartsWith($"s3lo.yaml line {line}: {path} ", error.Message);
    }

    [Theory]
    [InlineData("default: [unclosed\n")]
    [InlineData("a: 1\n---\nb: 2\n")]
    [InlineData("- a\n- b\n")]
    [InlineData("default:\n  immutable: true\n   bad indent: 1\n")]
    public void MalformedYamlIsInvalidPolicy(string yaml)
    {
        var error = Assert.Throws<S3loException>(() => PolicyDocument.Parse(yaml));
        Assert.Equal(ErrorIds.InvalidPolicy, error.ErrorId);
        Assert.Contains("line ", error.Message);
    }

    [Theory]
    [InlineData("default:\n  immutable:\n  lifecycle:\n    keep_last: ~\n    max_age: null\n    keep_tags:\n")]
    [InlineData("default: ~\nimages:\n  app:\n")]
    [InlineData("default:\n  lifecycle:\n")]
    public void NullValuesAreNotSet(string yaml)
    {
        var document = PolicyDocument.Parse(yaml);
        Assert.Equal(ImagePolicy.Empty, document.Default);
        Assert.All(document.Images, i => Assert.Equal(ImagePolicy.Empty, i.Policy));
    }

    [Theory]
    [InlineData("yes", true)]
    [InlineData("True", true)]
    [InlineData("off", false)]
    [InlineData("FALSE", false)]
    [InlineData("Y", true)]
    public void BooleansReadAsGoReadsThem(string text, bool expected)
        => Assert.Equal(expected, PolicyDocument.Parse($"default:\n  immutable: {text}\n").Default.Immutable);

    [Fact]
    public void AnEmptyKeepTagsListIsSetAndEmpty()
        => Assert.Equal([], PolicyDocument.Parse("default: { lifecycle: { keep_tags: [] } }").Default.KeepTags!);
}
