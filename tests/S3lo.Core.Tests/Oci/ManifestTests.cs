using System.Text;
using S3lo.Core;
using S3lo.Core.Oci;

namespace S3lo.Core.Tests.Oci;

public class ManifestTests
{
    private const string D1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    private const string D2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    private const string D3 = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

    [Fact]
    public void DigestOfAManifestIsTheDigestOfItsExactBytes()
    {
        var json = $$"""{ "schemaVersion": 2, "mediaType": "{{MediaTypes.OciManifest}}", "config": {"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{D1}}","size":7},  "layers": [{"mediaType":"{{MediaTypes.OciLayerGzip}}","digest":"{{D2}}","size":100}] }""";
        var bytes = Encoding.UTF8.GetBytes(json);
        var m = Manifest.Parse(bytes);
        Assert.Equal(Digest.Compute(bytes), m.Digest);
        Assert.Same(bytes, m.Bytes);
        Assert.False(m.IsIndex);
        Assert.Equal(D1, m.Config!.Digest.ToString());
        Assert.Equal(107, m.ContentSize);
    }

    /// <summary>Two entries that differ only by variant: each is chosen by its own, and v7 is not taken for the v6 listed first.</summary>
    [Fact]
    public void EntriesThatDifferOnlyByVariantAreToldApart()
    {
        var json = $$"""
            {"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[
            {"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{D1}}","size":10,"platform":{"os":"linux","architecture":"arm","variant":"v6"} },
            {"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{D2}}","size":10,"platform":{"os":"linux","architecture":"arm","variant":"v7"} }]}
            """;
        var m = Manifest.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Equal(D1, m.SelectPlatform(Platform.Parse("linux/arm/v6")).Digest.ToString());
        Assert.Equal(D2, m.SelectPlatform(Platform.Parse("linux/arm/v7")).Digest.ToString());
        Assert.Equal(ErrorIds.PlatformNotFound, Assert.Throws<S3loException>(() => m.SelectPlatform(Platform.Parse("linux/arm/v8"))).ErrorId);
    }

    [Fact]
    public void ADocumentWithoutMediaTypeButWithManifestsIsAnIndex()
    {
        var json = $$"""
            {"schemaVersion":2,"manifests":[
            {"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{D1}}","size":10,"platform":{"os":"linux","architecture":"amd64"} },
            {"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{D2}}","size":10,"platform":{"os":"linux","architecture":"arm","variant":"v7"} },
            {"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{D3}}","size":10,"platform":{"os":"unknown","architecture":"unknown"} }]}
            """;
        var m = Manifest.Parse(Encoding.UTF8.GetBytes(json));
        Assert.True(m.IsIndex);
        Assert.Equal(["linux/amd64", "linux/arm/v7"], m.Platforms.Select(p => p.ToString()));
        Assert.Equal(D2, m.SelectPlatform(Platform.Parse("linux/arm")).Digest.ToString());
        Assert.Equal(D2, m.SelectPlatform(Platform.Parse("linux/arm/v7")).Digest.ToString());
        Assert.Equal(ErrorIds.PlatformNotFound, Assert.Throws<S3loException>(() => m.SelectPlatform(Platform.Parse("linux/arm/v6"))).ErrorId);
        Assert.Equal(ErrorIds.PlatformNotFound, Assert.Throws<S3loException>(() => m.SelectPlatform(Platform.Parse("unknown/unknown"))).ErrorId);
    }

    [Fact]
    public void DockerSchema2TypesAreRead()
    {
        var json = $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.DockerManifest}}","config":{"mediaType":"{{MediaTypes.DockerConfig}}","digest":"{{D1}}","size":1},"layers":[]}""";
        var m = Manifest.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Equal(MediaTypes.DockerManifest, m.MediaType);
        Assert.Single(m.References);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:zz","size":1}}""")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":-1}}""")]
    [InlineData("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}""")]
    public void MalformedManifestsAreRejected(string json)
    {
        var e = Assert.ThrowsAny<S3loException>(() => Manifest.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(ErrorIds.InvalidManifest, e.ErrorId);
    }

    [Fact]
    public void UnknownMediaTypesAreRejected()
    {
        var e = Assert.ThrowsAny<S3loException>(() => Manifest.Parse("""{"schemaVersion":1,"name":"x"}"""u8.ToArray()));
        Assert.Equal(ErrorIds.UnsupportedMediaType, e.ErrorId);
    }

    [Fact]
    public void CreatedManifestsRoundTrip()
    {
        var config = new Descriptor(MediaTypes.OciConfig, Digest.Parse(D1), 5);
        var layer = new Descriptor(MediaTypes.OciLayer, Digest.Parse(D2), 9);
        var m = Manifest.CreateImage(config, [layer]);
        var again = Manifest.Parse(m.Bytes);
        Assert.Equal(m.Digest, again.Digest);
        Assert.Equal(MediaTypes.OciManifest, again.MediaType);
        Assert.Equal([config.Digest, layer.Digest], again.References.Select(r => r.Digest));
    }

    [Theory]
    [InlineData("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85")]
    [InlineData("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    public void DigestsMustBeLowercaseSha256(string text)
        => Assert.Equal(ErrorIds.InvalidDigest, Assert.Throws<S3loException>(() => Digest.Parse(text)).ErrorId);

    [Fact]
    public void DigestOfEmptyInputIsTheWellKnownValue()
        => Assert.Equal("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Digest.Compute([]).ToString());
}
