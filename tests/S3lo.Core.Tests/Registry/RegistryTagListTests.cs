using S3lo.Core.Oci;
using S3lo.Core.Registry;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Registry;

[Collection(RegistryCollection.Name)]
public sealed class RegistryTagListTests(RegistryFixture fixture)
{
    private static readonly RegistryClientOptions Anonymous = new() { UseDockerConfig = false, RetryDelay = TimeSpan.FromMilliseconds(10) };

    [Fact]
    public async Task Lists_every_tag_across_pages_and_reads_each_digest()
    {
        var tags = new[] { "a1", "a2", "b1", "b2", "c1" };
        foreach (var tag in tags)
            Tool.Run("skopeo", "copy", "--dest-tls-verify=false", "oci:" + fixture.Images.Layout + ":v1", $"docker://{fixture.Anonymous.Host}/paged:{tag}");
        using var proxy = new RegistryProxy(fixture.Anonymous.Host) { PageTags = true };
        using var client = new RegistryClient(proxy.Host, Anonymous);

        var listed = new List<string>();
        await foreach (var tag in client.ListTagsAsync("paged", default, pageSize: 2)) listed.Add(tag);

        Assert.Equal(tags, listed);
        Assert.Equal(3, proxy.TagPagesServed);
        var expected = ImageFixture.ManifestDigest(fixture.Images.Layout, "v1");
        Assert.Equal(expected, (await client.GetManifestDigestAsync("paged", "b2", default))?.ToString());
        Assert.Null(await client.GetManifestDigestAsync("paged", "nope", default));
    }

    [Fact]
    public async Task A_repository_that_does_not_exist_has_no_tags()
    {
        using var client = new RegistryClient(fixture.Anonymous.Host, Anonymous);
        var listed = new List<string>();
        await foreach (var tag in client.ListTagsAsync("never/pushed", default)) listed.Add(tag);
        Assert.Empty(listed);
    }

    [Fact]
    public async Task Deleting_a_tag_leaves_the_other_tags()
    {
        foreach (var tag in new[] { "keep", "drop" })
            Tool.Run("skopeo", "copy", "--dest-tls-verify=false", "oci:" + fixture.Images.Layout + (tag == "keep" ? ":v1" : ":v2"),
                $"docker://{fixture.Anonymous.Host}/deleting:{tag}");
        using var client = new RegistryClient(fixture.Anonymous.Host, Anonymous);
        var drop = (await client.GetManifestDigestAsync("deleting", "drop", default))!.Value;

        await client.DeleteTagAsync("deleting", "drop", drop, digestShared: false, default);

        Assert.Null(await client.GetManifestDigestAsync("deleting", "drop", default));
        Assert.NotNull(await client.GetManifestDigestAsync("deleting", "keep", default));
    }
}
