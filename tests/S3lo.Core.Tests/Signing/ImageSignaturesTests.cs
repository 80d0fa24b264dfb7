using System.Security.Cryptography;
using System.Text;
using S3lo.Core.Signing;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Local;
using S3lo.Core.Tests.TestSupport;
using Xunit;

namespace S3lo.Core.Tests.Signing;

public sealed class ImageSignaturesTests : IDisposable
{
    private readonly TempDir _dir = new();

    private static readonly byte[] ManifestA = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[],"annotations":{"n":"a"}}""");
    private static readonly byte[] ManifestB = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[],"annotations":{"n":"b"}}""");

    [Fact]
    public async Task A_tag_pushed_again_while_it_is_signed_fails_with_TagChanged_and_leaves_no_record()
    {
        await using var store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.Path)));
        await store.Objects.PutBytesAsync(StoreLayout.ManifestKey("app", "v1"), ManifestA, ObjectClass.Metadata, default);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // The tag moves while the key signs, as a push racing the signing would move it.
        var signer = new MovingSigner(new LocalSigner(key, "test"), () => store.Objects.PutBytesAsync(StoreLayout.ManifestKey("app", "v1"), ManifestB, ObjectClass.Metadata, default));

        var e = await Assert.ThrowsAsync<S3loException>(() => new ImageSignatures(store).SignAsync(new SignedName(_dir.Path, "app", "v1"), signer, default));

        Assert.Equal(ErrorIds.TagChanged, e.ErrorId);
        Assert.Empty(await store.ListSignaturesAsync("app", "v1", default));
    }

    [Fact]
    public async Task A_tag_that_stays_put_is_signed_over_the_digest_read()
    {
        await using var store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.Path)));
        await store.Objects.PutBytesAsync(StoreLayout.ManifestKey("app", "v1"), ManifestA, ObjectClass.Metadata, default);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var signer = new LocalSigner(key, "test");
        var name = new SignedName(_dir.Path, "app", "v1");

        var signed = await new ImageSignatures(store).SignAsync(name, signer, default);

        Assert.Equal(Core.Oci.Digest.Compute(ManifestA).ToString(), signed.Digest);
        var verdict = await new ImageSignatures(store).VerifyAsync(name, signer.PublicKey, default);
        Assert.Equal(SignatureStatus.Valid, verdict.Status);
    }

    public void Dispose() => _dir.Dispose();

    private sealed class MovingSigner(ISigner inner, Func<Task> move) : ISigner
    {
        public string KeyRef => inner.KeyRef;
        public VerificationKey PublicKey => inner.PublicKey;
        public string Algorithm => inner.Algorithm;

        public async Task<byte[]> SignAsync(byte[] payload, CancellationToken cancellationToken)
        {
            var signature = await inner.SignAsync(payload, cancellationToken);
            await move();
            return signature;
        }
    }
}
