using System.Net;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using S3lo.Core.Storage.S3;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Storage;

/// <summary>
/// S3lo signs PUT and UploadPart bodies with a SHA-256 it computed itself (PayloadHashS3Client), so the SDK does not
/// hash them again. These tests show the signature really carries that value - a wrong one is refused by the server,
/// which checks the body against it - so a bug there is a failed request, never an unverified object.
/// </summary>
[Collection(RgwCollection.Name)]
public sealed class S3PayloadHashTests(RgwServer server) : IDisposable
{
    private readonly PayloadHashS3Client _client = S3ObjectStore.CreateClient(server.Connection(),
        new BasicAWSCredentials(RgwServer.AccessKey, RgwServer.SecretKey), "us-east-1");

    private readonly string _bucket = server.NewBucket();

    public void Dispose() => _client.Dispose();

    private static string Sha256Hex(byte[] data) => Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant();

    private PutObjectRequest Put(string key, byte[] data) => new()
    {
        BucketName = _bucket, Key = key, InputStream = new MemoryStream(data, writable: false), UseChunkEncoding = false,
    };

    [Fact]
    public async Task APutSignedWithTheBodysHashIsStored()
    {
        var data = RandomNumberGenerator.GetBytes(100_000);
        var request = Put("right", data);
        _client.SetPayloadHash(request, Sha256Hex(data));
        await _client.PutObjectAsync(request);
        using var read = await _client.GetObjectAsync(_bucket, "right");
        var copy = new MemoryStream();
        await read.ResponseStream.CopyToAsync(copy);
        Assert.Equal(data, copy.ToArray());
    }

    [Fact]
    public async Task APutSignedWithAnotherHashIsRefusedAndStoresNothing()
    {
        var data = RandomNumberGenerator.GetBytes(100_000);
        var request = Put("wrong", data);
        _client.SetPayloadHash(request, Sha256Hex(RandomNumberGenerator.GetBytes(16)));
        var e = await Assert.ThrowsAsync<AmazonS3Exception>(() => _client.PutObjectAsync(request));
        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Equal("XAmzContentSHA256Mismatch", e.ErrorCode);
        var missing = await Assert.ThrowsAsync<AmazonS3Exception>(() => _client.GetObjectMetadataAsync(_bucket, "wrong"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    /// <summary>Credentials that can be made wrong and right again, to get an early 403 and a good request on one client.</summary>
    private sealed class SwitchingCredentials : AWSCredentials
    {
        public bool Wrong { get; set; } = true;

        public override ImmutableCredentials GetCredentials() => new(RgwServer.AccessKey, Wrong ? "wrong" : RgwServer.SecretKey, null);
    }

    [Fact]
    public async Task ARefusedPutDoesNotSpoilTheNextRequestOnItsConnection()
    {
        // With "Expect: 100-continue" RGW answered 403 without reading the 1-byte body, then read that byte as the start of
        // the next request on the connection ("xPUT /bucket/key", 405). S3HttpClientFactory sends no such header.
        var credentials = new SwitchingCredentials();
        using var client = S3ObjectStore.CreateClient(server.Connection(), credentials, "us-east-1");
        var refused = Put("early", "x"u8.ToArray());
        client.SetPayloadHash(refused, Sha256Hex("x"u8.ToArray()));
        var e = await Assert.ThrowsAsync<AmazonS3Exception>(() => client.PutObjectAsync(refused));
        Assert.Equal(HttpStatusCode.Forbidden, e.StatusCode);
        credentials.Wrong = false;
        await Task.Delay(300); // let the refused request's connection go back to the pool
        var data = RandomNumberGenerator.GetBytes(100);
        var next = Put("next", data);
        client.SetPayloadHash(next, Sha256Hex(data));
        await client.PutObjectAsync(next);
    }

    [Fact]
    public async Task APartSignedWithAnotherHashIsRefused()
    {
        var upload = await _client.InitiateMultipartUploadAsync(_bucket, "parts");
        try
        {
            var data = RandomNumberGenerator.GetBytes(S3ObjectStore.PartSize);
            var request = new UploadPartRequest
            {
                BucketName = _bucket, Key = "parts", UploadId = upload.UploadId, PartNumber = 1, PartSize = data.Length,
                InputStream = new MemoryStream(data, writable: false), UseChunkEncoding = false,
            };
            _client.SetPayloadHash(request, Sha256Hex(data[1..]));
            var e = await Assert.ThrowsAsync<AmazonS3Exception>(() => _client.UploadPartAsync(request));
            Assert.Equal("XAmzContentSHA256Mismatch", e.ErrorCode);

            var again = new UploadPartRequest
            {
                BucketName = _bucket, Key = "parts", UploadId = upload.UploadId, PartNumber = 1, PartSize = data.Length,
                InputStream = new MemoryStream(data, writable: false), UseChunkEncoding = false,
            };
            _client.SetPayloadHash(again, Sha256Hex(data));
            var part = await _client.UploadPartAsync(again);
            Assert.Equal(Convert.ToHexString(MD5.HashData(data)).ToLowerInvariant(), part.ETag.Trim('"'));
        }
        finally
        {
            await _client.AbortMultipartUploadAsync(_bucket, "parts", upload.UploadId);
        }
    }
}
