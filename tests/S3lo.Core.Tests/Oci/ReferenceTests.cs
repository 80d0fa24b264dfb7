using S3lo.Core;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Tests.Oci;

public class ReferenceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("s3lo-ref-").FullName;

    private StoreContext Resolve => new(path => Path.GetFullPath(path, _dir));

    [Theory]
    [InlineData("s3://images/app:v1", "images", "app", "v1", null)]
    [InlineData("s3://images/org/backend:1.2.3-rc_1", "images", "org/backend", "1.2.3-rc_1", null)]
    [InlineData("s3://my.bucket-1/a/b/c:latest", "my.bucket-1", "a/b/c", "latest", null)]
    [InlineData("s3://images/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "images", "app", null,
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("s3://images/app", "images", "app", null, null)]
    public void ParsesS3References(string text, string bucket, string name, string? tag, string? digest)
    {
        var r = ImageReference.Parse(text, Resolve);
        Assert.Equal("s3", r.Store.Scheme);
        Assert.Equal(bucket, r.Store.Root);
        Assert.Equal(name, r.Name);
        Assert.Equal(tag, r.Tag);
        Assert.Equal(digest, r.Digest?.ToString());
        Assert.Equal(text, r.ToString());
    }

    [Fact]
    public void StoreLevelReferencesNameNoImage()
    {
        var s3 = ImageReference.Parse("s3://images/", Resolve);
        Assert.True(s3.IsStoreOnly);
        Assert.Equal("s3://images/", s3.ToString());
        var local = ImageReference.Parse("local://./images/", Resolve);
        Assert.True(local.IsStoreOnly);
        Assert.Equal(Path.Combine(_dir, "images"), local.Store.Root);
    }

    [Theory]
    [InlineData("local://./images/app:v1", "images", "app")]
    [InlineData("local://./store/mirror/demo:v1", "store", "mirror/demo")]
    [InlineData("local://store/org/team/app:v1", "store", "org/team/app")]
    [InlineData("local://../up/app:v1", "../up", "app")]
    [InlineData("local://./app:v1", ".", "app")]
    public void ANewLocalStoreIsTheFirstPathComponentAsTheGoToolReadsIt(string text, string store, string name)
    {
        Directory.CreateDirectory(Path.Combine(_dir, "work"));
        var r = ImageReference.Parse(text, new StoreContext(path => Path.GetFullPath(path, Path.Combine(_dir, "work"))));
        Assert.Equal(Path.GetFullPath(Path.Combine(_dir, "work", store)).TrimEnd('/'), r.Store.Root);
        Assert.Equal(name, r.Name);
        Assert.Equal("v1", r.Tag);
    }

    [Fact]
    public void AnAbsoluteLocalReferenceTakesItsFirstComponentAsANewStore()
    {
        var r = ImageReference.Parse("local:///srv/app:v1", Resolve);
        Assert.Equal("/srv", r.Store.Root);
        Assert.Equal("app", r.Name);
        Assert.Equal("local:///srv/app:v1", r.ToString());
    }

    [Fact]
    public void AnExistingStoreDeeperOnThePathWins()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "store", "mirror", "blobs", "sha256"));
        var r = ImageReference.Parse("local://./store/mirror/demo:v1", Resolve);
        Assert.Equal(Path.Combine(_dir, "store", "mirror"), r.Store.Root);
        Assert.Equal("demo", r.Name);
    }

    [Fact]
    public void LocalReferenceFindsTheExistingStoreAboveANestedName()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "srv", "images", "blobs", "sha256"));
        var r = ImageReference.Parse($"local://{_dir}/srv/images/org/app:v2", Resolve);
        Assert.Equal(Path.Combine(_dir, "srv", "images"), r.Store.Root);
        Assert.Equal("org/app", r.Name);
        Assert.Equal("v2", r.Tag);
        Assert.StartsWith("local:///", r.ToString());
    }

    [Fact]
    public void LocalReferenceToAnExistingStoreWithoutSlashIsStoreLevel()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "images", "blobs", "sha256"));
        Assert.True(ImageReference.Parse("local://./images", Resolve).IsStoreOnly);
    }

    [Fact]
    public void AProjectFolderNamedManifestsIsNotTakenForAStore()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "repo", "images", "manifests"));
        var r = ImageReference.Parse("local://./repo/images/app:v1", Resolve);
        Assert.Equal(Path.Combine(_dir, "repo"), r.Store.Root);
        Assert.Equal("images/app", r.Name);
    }

    [Fact]
    public void AStoreWithOnlyAPolicyFileIsAStore()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "images"));
        File.WriteAllText(Path.Combine(_dir, "images", "s3lo.yaml"), "");
        Assert.True(ImageReference.Parse("local://./images", Resolve).IsStoreOnly);
    }

    [Theory]
    [InlineData("s3://images/App:v1", ErrorIds.InvalidName)]
    [InlineData("s3://images/app..x:v1", ErrorIds.InvalidName)]
    [InlineData("s3://images/../etc:v1", ErrorIds.InvalidName)]
    [InlineData("s3://images/app//x:v1", ErrorIds.InvalidName)]
    [InlineData("s3://images/app\\x:v1", ErrorIds.InvalidName)]
    [InlineData("s3://images/app:.hidden", ErrorIds.InvalidTag)]
    [InlineData("s3://images/app:-x", ErrorIds.InvalidTag)]
    [InlineData("s3://images/app:", ErrorIds.InvalidReference)]
    [InlineData("s3://images/app@sha256:abc", ErrorIds.InvalidDigest)]
    [InlineData("s3://images/app@md5:0123456789abcdef0123456789abcdef", ErrorIds.InvalidDigest)]
    [InlineData("s3://Bad_Bucket/app:v1", ErrorIds.InvalidReference)]
    [InlineData("s3://ab/app:v1", ErrorIds.InvalidReference)]
    [InlineData("http://images/app:v1", ErrorIds.InvalidReference)]
    [InlineData("local://", ErrorIds.InvalidReference)]
    [InlineData("local://./a//b:v1", ErrorIds.InvalidReference)]
    [InlineData("local://./store/./app:v1", ErrorIds.InvalidReference)]
    [InlineData("local://./store/../app:v1", ErrorIds.InvalidReference)]
    [InlineData("local://.//app:v1", ErrorIds.InvalidReference)]
    public void RejectsMalformedReferencesWithStableIds(string text, string errorId)
    {
        var e = Assert.ThrowsAny<S3loException>(() => ImageReference.Parse(text, Resolve));
        Assert.Equal(errorId, e.ErrorId);
    }

    [Fact]
    public void TagIsRequiredWhereAToolWouldOtherwiseAssumeLatest()
    {
        var r = ImageReference.Parse("s3://images/app", Resolve);
        var e = Assert.Throws<S3loException>(() => r.RequireTag("push"));
        Assert.Equal(ErrorIds.TagRequired, e.ErrorId);
    }

    [Fact]
    public void TagsUpTo128CharactersAreAccepted()
    {
        var tag = "v" + new string('1', 127);
        Assert.Equal(tag, ImageReference.Parse($"s3://images/app:{tag}", Resolve).Tag);
        Assert.Equal(ErrorIds.InvalidTag, Assert.Throws<S3loException>(() => ImageReference.Parse($"s3://images/app:{tag}1", Resolve)).ErrorId);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
