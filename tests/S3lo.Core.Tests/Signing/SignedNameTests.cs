using System.Text;
using S3lo.Core.Oci;
using S3lo.Core.Signing;
using S3lo.Core.Storage;
using S3lo.Core.Storage.S3;
using S3lo.Core.Tests.TestSupport;
using Xunit;

namespace S3lo.Core.Tests.Signing;

/// <summary>What a signature names, as s3lo's reference parser splits the same text (FORMAT.md, "References" and "Signing").</summary>
public sealed class SignedNameTests : IDisposable
{
    private readonly TempDir _dir = new();

    private StoreContext Context => new(p => Path.GetFullPath(p, _dir.Path), new S3ConnectionOptions());

    [Theory]
    [InlineData("s3://bucket/org/app:v1", "bucket/org/app:v1")]
    [InlineData("az://container/app:v1", "container/app:v1")]
    [InlineData("local://./store/org/app:v1", "./store/org/app:v1")]
    [InlineData("local://../up/app:v2", "../up/app:v2")]
    public void The_payload_names_the_store_as_the_reference_writes_it(string text, string named)
    {
        var name = SignedName.Of(ImageReference.Parse(text, Context), text);
        Assert.Equal(named, $"{name.Store}/{name.Name}:{name.Tag}");
    }

    [Fact]
    public void A_store_found_deeper_on_the_path_signs_the_same_text_as_s3lo()
    {
        Directory.CreateDirectory(Path.Combine(_dir.Path, "store", "org", "blobs", "sha256"));
        const string text = "local://./store/org/app:v1";
        var reference = ImageReference.Parse(text, Context);
        Assert.Equal("app", reference.Name);
        var name = SignedName.Of(reference, text);
        // s3lo reads root ./store and image org/app; the payload text is the same.
        Assert.Equal("./store/org/app:v1", $"{name.Store}/{name.Name}:{name.Tag}");
    }

    [Fact]
    public void The_payload_is_exactly_the_format_bytes()
    {
        var digest = Digest.Compute("x"u8);
        var payload = SignaturePayload.Build(new SignedName("bucket", "org/app", "v1"), digest);
        Assert.Equal(Encoding.UTF8.GetBytes($"s3lo-signature-v2\nbucket/org/app:v1\n{digest}\n"), payload);
    }

    [Fact]
    public void A_digest_reference_cannot_be_signed()
    {
        var reference = ImageReference.Parse($"s3://bucket/app@{Digest.Compute("x"u8)}", Context);
        Assert.Equal(ErrorIds.TagRequired, Assert.Throws<S3loException>(() => SignedName.Of(reference, null)).ErrorId);
    }

    [Theory]
    [InlineData("awskms:///alias/release", null, "alias/release")]
    [InlineData("awskms:///arn:aws:kms:eu-west-1:111122223333:key/k", null, "arn:aws:kms:eu-west-1:111122223333:key/k")]
    [InlineData("awskms://localhost:4566/alias/release", "https://localhost:4566", "alias/release")]
    [InlineData("arn:aws:kms:eu-west-1:111122223333:alias/release", null, "arn:aws:kms:eu-west-1:111122223333:alias/release")]
    public void Kms_references_are_read_as_cosign_writes_them(string keyRef, string? endpoint, string keyId)
        => Assert.Equal((endpoint, keyId), KmsKey.Split(keyRef));

    [Fact]
    public void A_kms_reference_without_a_key_is_InvalidKey()
        => Assert.Equal(ErrorIds.InvalidKey, Assert.Throws<S3loException>(() => KmsKey.Split("awskms:///")).ErrorId);

    public void Dispose() => _dir.Dispose();
}
