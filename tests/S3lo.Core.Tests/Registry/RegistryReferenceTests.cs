using S3lo.Core.Registry;

namespace S3lo.Core.Tests.Registry;

public sealed class RegistryReferenceTests
{
    [Theory]
    [InlineData("alpine", "docker.io", "registry-1.docker.io", "library/alpine", "latest", null)]
    [InlineData("docker.io/library/alpine:3.20", "docker.io", "registry-1.docker.io", "library/alpine", "3.20", null)]
    [InlineData("index.docker.io/bitnami/redis", "docker.io", "registry-1.docker.io", "bitnami/redis", "latest", null)]
    [InlineData("ghcr.io/org/app:v1", "ghcr.io", "ghcr.io", "org/app", "v1", null)]
    [InlineData("localhost/app", "localhost", "localhost", "app", "latest", null)]
    [InlineData("127.0.0.1:5000/team/app:v1", "127.0.0.1:5000", "127.0.0.1:5000", "team/app", "v1", null)]
    [InlineData("localhost:5000/app@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "localhost:5000", "localhost:5000", "app", null,
        "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("org/app:v1", "docker.io", "registry-1.docker.io", "org/app", "v1", null)]
    public void Parses_docker_style_references(string text, string registry, string apiHost, string repository, string? tag, string? digest)
    {
        var reference = RegistryReference.Parse(text);
        Assert.Equal(registry, reference.Registry);
        Assert.Equal(apiHost, reference.ApiHost);
        Assert.Equal(repository, reference.Repository);
        Assert.Equal(tag, reference.Tag);
        Assert.Equal(digest, reference.Digest?.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("App:v1")]
    [InlineData("app:")]
    [InlineData("app:bad tag")]
    [InlineData("app@sha256:short")]
    [InlineData("host:port/app")]
    [InlineData("ghcr.io/")]
    [InlineData("a//b")]
    public void Refuses_malformed_references(string text)
    {
        var e = Assert.Throws<S3loException>(() => RegistryReference.Parse(text));
        Assert.Equal(ErrorIds.InvalidReference, e.ErrorId);
    }

    [Theory]
    [InlineData("alpine", true)]
    [InlineData("ghcr.io/org/app:v1", true)]
    [InlineData("127.0.0.1:5000/app:v1", true)]
    [InlineData("s3://bucket/app:v1", false)]
    [InlineData("local://./images/app:v1", false)]
    [InlineData("https://ghcr.io/app", false)]
    [InlineData("./image.tar", false)]
    [InlineData("/tmp/layout", false)]
    [InlineData("image.tar", false)]
    [InlineData("C:\\images\\app.tar", false)]
    [InlineData("oci:layout:v1", false)]
    public void Tells_registry_references_from_stores_and_paths(string text, bool expected)
        => Assert.Equal(expected, RegistryReference.IsRegistryReference(text));
}
