using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.Runtime.Credentials;
using Amazon.S3;
using Amazon.S3.Model;
using S3lo.Core.IO;
using S3lo.Core.Oci;

namespace S3lo.Core.Storage.S3;

/// <summary>
/// A store in an S3 bucket (AWS or an S3-compatible service). A blob above <see cref="PartSize"/> whose source can be
/// read again from its start (a file) goes up as one PUT streamed from it, up to S3's 5 GiB; any other goes up as a
/// multipart upload whose parts are read one after another (so the digest is computed while streaming) and sent
/// concurrently, completed only when the digest matched. Either way a bad blob never becomes visible, and no blob is
/// ever held whole in memory: at most <see cref="MaxBufferedParts"/> part buffers exist per store, allocated once and reused.
/// <para>
/// Over plain HTTP every body is signed with a SHA-256 S3lo computed itself (<see cref="PayloadHashS3Client"/>): a whole
/// blob with its own digest (checked by the server, and by S3lo as it reads); a part with the hash of its buffer, taken
/// once off the reading thread. Over HTTPS bodies go unsigned (TLS protects them in transit), a whole blob with its digest
/// as <c>x-amz-checksum-sha256</c>. The digest is checked through the transfer engine's own verifying stream when it hands
/// one over (<see cref="VerifyingReadStream.Over"/>), so a blob is hashed once by S3lo (a part over HTTP twice: digest,
/// part), and the SDK never reads the bytes again.
/// </para>
/// </summary>
public sealed class S3ObjectStore : IObjectStore, IIncompleteWrites, IRangedReads, IPresignedReads
{
    public const int PartSize = 8 << 20;
    private const int MaxBufferedParts = 8;
    private const int DeleteBatchSize = 1000;
    private const int ParallelDeletes = 16;
    private const long MaxSingleCopySize = 5L << 30;
    private const long MaxSinglePutSize = 5L << 30;
    private const long CopyPartSize = 1L << 30;
    // The SDK copies a request body to the connection through a buffer of this size (its default, 8 KiB, costs
    // one send() per 8 KiB); in flight at most once per request.
    private const int RequestBufferSize = 256 << 10;

    private readonly PayloadHashS3Client _client;
    private readonly string _bucket;
    private readonly string? _blobStorageClass;
    private readonly string? _metadataStorageClass;
    private readonly PartBuffers _partBuffers = new(MaxBufferedParts, PartSize);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<object, string?> _clockReadings = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<object, string> _deleteConditions = new();
    private readonly TouchedObjects<TouchedObject> _touched = new();

    private S3ObjectStore(StoreLocation location, PayloadHashS3Client client)
    {
        Location = location;
        _client = client;
        _bucket = location.Root;
        var options = location.Settings as S3ConnectionOptions ?? new S3ConnectionOptions();
        _blobStorageClass = options.BlobStorageClass ?? (options.IsCustomEndpoint ? null : "INTELLIGENT_TIERING");
        _metadataStorageClass = options.ManifestStorageClass ?? (options.IsCustomEndpoint ? null : "STANDARD");
        _client.AfterResponseEvent += CaptureDate;
        _client.BeforeRequestEvent += AddDeleteCondition;
    }

    public StoreLocation Location { get; }

    public static async Task<S3ObjectStore> OpenAsync(StoreLocation location, CancellationToken cancellationToken)
    {
        if (location.Provider != S3StoreProvider.Instance) throw new ArgumentException("Not an S3 store.", nameof(location));
        var options = location.Settings as S3ConnectionOptions ?? new S3ConnectionOptions();
        var (credentials, profileRegion) = await ResolveCredentialsAsync(options, cancellationToken).ConfigureAwait(false);
        var region = options.Region ?? profileRegion ?? Environment.GetEnvironmentVariable("AWS_REGION")
                     ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION");
        if (region is null && !options.IsCustomEndpoint)
            region = await DiscoverBucketRegionAsync(location, credentials, cancellationToken).ConfigureAwait(false);
        return new S3ObjectStore(location, CreateClient(options, credentials, region ?? "us-east-1"));
    }

    internal static async Task<(AWSCredentials Credentials, string? ProfileRegion)> ResolveCredentialsAsync(S3ConnectionOptions options,
        CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(options.AccessKey))
        {
            return (string.IsNullOrEmpty(options.SessionToken)
                ? new BasicAWSCredentials(options.AccessKey, options.SecretKey)
                : new SessionAWSCredentials(options.AccessKey, options.SecretKey, options.SessionToken), null);
        }
        if (!string.IsNullOrEmpty(options.ProfileName))
        {
            var chain = new CredentialProfileStoreChain();
            if (!chain.TryGetProfile(options.ProfileName, out var profile) || !chain.TryGetAWSCredentials(options.ProfileName, out var credentials))
                throw new S3loException(ErrorIds.CredentialsNotFound, S3loErrorKind.PermissionDenied,
                    $"The AWS profile '{options.ProfileName}' was not found in the shared credentials or config file.", options.ProfileName);
            return (credentials, profile.Region?.SystemName);
        }
        // Resolved here rather than on the first request, so that "no credentials anywhere" is its own clear error.
        try
        {
            return (await new DefaultAWSCredentialsIdentityResolver().ResolveIdentityAsync(null, cancellationToken).ConfigureAwait(false), null);
        }
        catch (AmazonClientException e)
        {
            throw new S3loException(ErrorIds.CredentialsNotFound, S3loErrorKind.PermissionDenied,
                "No AWS credentials were found. Pass -Credential (access key and secret key) or -ProfileName, or set AWS_ACCESS_KEY_ID " +
                "and AWS_SECRET_ACCESS_KEY, a default profile, or an instance role.", null, e);
        }
    }

    internal static PayloadHashS3Client CreateClient(S3ConnectionOptions options, AWSCredentials credentials, string region)
    {
        var config = new AmazonS3Config
        {
            RetryMode = RequestRetryMode.Standard,
            MaxErrorRetry = 5,
            BufferSize = RequestBufferSize,
            HttpClientFactory = new S3HttpClientFactory(options.IdleTimeout),
            // S3lo checks every byte it sends or reads against its SHA-256 digest itself, and hands S3 that digest
            // (x-amz-checksum-sha256, or the payload hash over plain HTTP). The SDK's own CRC32s would read each body
            // again, and a multipart upload started with one would need every part's CRC32 at completion.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        // Only a custom http:// endpoint is plain HTTP: AWS endpoints are HTTPS.
        var signsPayloads = false;
        if (options.IsCustomEndpoint)
        {
            if (!Uri.TryCreate(options.EndpointUrl, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
                throw new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                    $"The endpoint '{options.EndpointUrl}' is not an http:// or https:// URL.", options.EndpointUrl);
            // S3-compatible services rarely handle virtual-host addressing or aws-chunked checksum trailers.
            config.ServiceURL = options.EndpointUrl;
            config.ForcePathStyle = true;
            config.AuthenticationRegion = region;
            signsPayloads = endpoint.Scheme == Uri.UriSchemeHttp;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }
        return new PayloadHashS3Client(credentials, config, signsPayloads);
    }

    private static async Task<string> DiscoverBucketRegionAsync(StoreLocation location, AWSCredentials credentials, CancellationToken cancellationToken)
    {
        using var client = CreateClient(location.Settings as S3ConnectionOptions ?? new S3ConnectionOptions(), credentials, "us-east-1");
        var response = await Call(location, location.Root,
            () => client.GetBucketLocationAsync(new GetBucketLocationRequest { BucketName = location.Root }, cancellationToken)).ConfigureAwait(false);
        var value = response.Location?.Value;
        return string.IsNullOrEmpty(value) ? "us-east-1" : value == "EU" ? "eu-west-1" : value;
    }

    public async Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var response = await RetrySchedule.Store.RunAsync(
                () => _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _bucket, Key = key }, cancellationToken),
                IsCutOff, cancellationToken).ConfigureAwait(false);
            return new ObjectInfo(key, response.ContentLength, ToOffset(response.LastModified), response.ETag, response.StorageClass?.Value);
        }
        catch (AmazonServiceException e) when (IsMissingKey(e))
        {
            return null;
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>The body is read inside the retry: one cut off halfway is asked for again, whole.</summary>
    public async Task<StoredObject?> GetBytesAsync(string key, long maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            return await RetrySchedule.Store.RunAsync(async () =>
            {
                using var response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = key }, cancellationToken)
                    .ConfigureAwait(false);
                if (response.ContentLength > maxBytes) throw StoreErrors.TooLarge(key, maxBytes);
                var bytes = new byte[response.ContentLength];
                await response.ResponseStream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
                return new StoredObject(bytes, new ObjectInfo(key, bytes.Length, ToOffset(response.LastModified), response.ETag, response.StorageClass?.Value))
                {
                    Metadata = ObjectMetadata.FromStore(response.Metadata.Keys.Select(name => KeyValuePair.Create(name, response.Metadata[name]))),
                };
            }, IsCutOff, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonServiceException e) when (IsMissingKey(e))
        {
            return null;
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>A body that breaks off is resumed with a ranged GET of the same version (If-Match its ETag) from the byte reached.</summary>
    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => OpenRangeAsync(key, 0, null, cancellationToken);

    public Task<Stream> OpenReadAsync(string key, long offset, long length, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        return OpenRangeAsync(key, offset, offset + length - 1, cancellationToken);
    }

    /// <summary>The object from <paramref name="offset"/> to <paramref name="last"/> (inclusive; null: its end), resumed
    /// from the byte reached when the body breaks off.</summary>
    private async Task<Stream> OpenRangeAsync(string key, long offset, long? last, CancellationToken cancellationToken)
    {
        var budget = new AttemptBudget(RetrySchedule.Store);
        budget.Take();
        var first = await OpenFromAsync(key, offset, last, null, cancellationToken).ConfigureAwait(false);
        var etag = first.Response.ETag;
        var length = first.Response.ContentLength;
        return new ResumingReadStream(first, length,
            async (reached, ct) =>
            {
                budget.Take();
                return await OpenFromAsync(key, offset + reached, last, etag, ct).ConfigureAwait(false);
            },
            (e, ct) => IsCutOff(e) || e is S3loException { Kind: S3loErrorKind.ConnectionError } || (e is OperationCanceledException && !ct.IsCancellationRequested),
            e => Translate(e, key), budget, $"'{key}' in {Location}", key);
    }

    public string? PresignUnavailableReason => null;

    public async Task<Uri> PresignReadAsync(string key, TimeSpan validFor, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var request = new GetPreSignedUrlRequest
        {
            BucketName = _bucket, Key = key, Verb = HttpVerb.GET, Expires = DateTime.UtcNow + validFor,
            // The SDK signs https unless told otherwise; an http endpoint (a local S3 server) must be signed as it is reached.
            Protocol = _client.Config.ServiceURL is { } url && url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? Protocol.HTTP : Protocol.HTTPS,
        };
        try
        {
            return new Uri(await _client.GetPreSignedURLAsync(request).ConfigureAwait(false));
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    private async Task<ResponseStream> OpenFromAsync(string key, long offset, long? last, string? etag, CancellationToken cancellationToken)
    {
        var request = new GetObjectRequest { BucketName = _bucket, Key = key, EtagToMatch = etag };
        if (offset > 0 || last is not null) request.ByteRange = new ByteRange($"bytes={offset}-{last}");
        try
        {
            return new ResponseStream(await _client.GetObjectAsync(request, cancellationToken).ConfigureAwait(false));
        }
        catch (AmazonServiceException e) when (IsMissingKey(e))
        {
            throw new ObjectNotFoundException(key, Location);
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, CancellationToken cancellationToken)
        => PutAsync(key, data, Sha256Hex(data.Span), objectClass, cancellationToken);

    public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition condition,
        CancellationToken cancellationToken)
        => PutBytesAsync(key, data, objectClass, condition, ObjectMetadata.None, cancellationToken);

    public async Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition? condition,
        IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        if (condition is not { } required)
        {
            await PutAsync(key, data, Sha256Hex(data.Span), objectClass, cancellationToken, metadata: metadata).ConfigureAwait(false);
            return;
        }
        try
        {
            await PutAsync(key, data, Sha256Hex(data.Span), objectClass, cancellationToken, required, metadata).ConfigureAwait(false);
            return;
        }
        catch (S3loException e) when (IsConditionFailure(e))
        {
            // Some S3-compatible servers (Ceph RGW 16 among them) answer 412 to every If-Match on PUT. When the
            // object still has the ETag we expected, that is what happened: fall back to a lock object.
            if (required.ExpectedETag is null || (await HeadAsync(key, cancellationToken).ConfigureAwait(false))?.ETag != required.ExpectedETag)
                throw new PreconditionFailedException(key, Location);
        }
        await PutUnderLockAsync(key, data, objectClass, required.ExpectedETag, metadata, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Read-check-write under a lock object <c>&lt;key&gt;.s3lo-lock</c> created with If-None-Match (which such
    /// servers do honour). A lock older than <see cref="StaleLockAge"/> is taken to be left by a crashed writer.
    /// </summary>
    private async Task PutUnderLockAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, string expectedETag,
        IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        var lockKey = key + ".s3lo-lock";
        try
        {
            await PutAsync(lockKey, ReadOnlyMemory<byte>.Empty, EmptySha256, ObjectClass.Metadata, cancellationToken, WriteCondition.IfNotExists)
                .ConfigureAwait(false);
        }
        catch (S3loException e) when (IsConditionFailure(e))
        {
            var held = await HeadAsync(lockKey, cancellationToken).ConfigureAwait(false);
            if (held is not null && await GetClockAsync(cancellationToken).ConfigureAwait(false) - held.LastModified > StaleLockAge)
                await DeleteAsync([lockKey], cancellationToken).ConfigureAwait(false);
            throw new PreconditionFailedException(key, Location);
        }
        try
        {
            if ((await HeadAsync(key, cancellationToken).ConfigureAwait(false))?.ETag != expectedETag)
                throw new PreconditionFailedException(key, Location);
            await PutAsync(key, data, Sha256Hex(data.Span), objectClass, cancellationToken, metadata: metadata).ConfigureAwait(false);
        }
        finally
        {
            await DeleteAsync([lockKey], CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static readonly TimeSpan StaleLockAge = TimeSpan.FromMinutes(2);

    // 409 is S3's answer to a conditional write racing another one on the same key: it lost as well.
    private static bool IsConditionFailure(S3loException e)
        => e.InnerException is AmazonS3Exception { StatusCode: HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict };

    /// <summary>One PUT of <paramref name="data"/>, signed with <paramref name="sha256Hex"/>, the SHA-256 of exactly those bytes.</summary>
    private async Task PutAsync(string key, ReadOnlyMemory<byte> data, string sha256Hex, ObjectClass objectClass, CancellationToken cancellationToken,
        WriteCondition condition = default, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var body = ReadOnlyStreamOver(data);
        var request = new PutObjectRequest
        {
            BucketName = _bucket, Key = key, InputStream = body, AutoCloseStream = false, UseChunkEncoding = false,
            IfNoneMatch = condition.MustNotExist ? "*" : null,
            IfMatch = condition.ExpectedETag,
        };
        _client.SetPayloadHash(request, sha256Hex);
        var storageClass = StorageClassFor(objectClass);
        if (storageClass is not null) request.StorageClass = S3StorageClass.FindValue(storageClass);
        foreach (var (name, value) in metadata ?? ObjectMetadata.None) request.Metadata.Add(name, value);
        await Call(Location, key, () => _client.PutObjectAsync(request, cancellationToken)).ConfigureAwait(false);
    }

    private const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private static string Sha256Hex(ReadOnlySpan<byte> data) => Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant();

    // A seekable view of the bytes (the SDK rewinds it to retry), no copy when they are an array, as they are here.
    private static MemoryStream ReadOnlyStreamOver(ReadOnlyMemory<byte> data)
        => MemoryMarshal.TryGetArray(data, out var segment) && segment.Array is { } array
            ? new MemoryStream(array, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(data.ToArray(), writable: false);

    public async Task PutVerifiedAsync(string key, Stream content, Digest digest, long size, ObjectClass objectClass,
        Action<long>? progress, CancellationToken cancellationToken)
    {
        await using var lease = VerifyingReadStream.Over(content, digest, size, $"blob {digest}");
        var verified = lease.Stream;
        if (size > PartSize && size <= MaxSinglePutSize && verified.CanRestart)
        {
            await PutStreamedAsync(key, verified, digest, size, objectClass, progress, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (size <= PartSize)
        {
            var buffer = await _partBuffers.RentAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var length = await ReadPartAsync(verified, buffer, cancellationToken).ConfigureAwait(false);
                await verified.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
                // Verified: these bytes are the blob, so the blob's digest is the SHA-256 of the body.
                await PutAsync(key, buffer.AsMemory(0, length), digest.Hex, objectClass, cancellationToken).ConfigureAwait(false);
                progress?.Invoke(length);
            }
            finally
            {
                _partBuffers.Return(buffer);
            }
            return;
        }
        await PutMultipartAsync(key, verified, objectClass, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One PUT of the whole blob, streamed from a source that can be read again from its start, and signed with the blob's
    /// digest: the SHA-256 of exactly the body, which is what SigV4 signs. So the bytes are read once and hashed once (by
    /// the verifying stream, as they go), and the server checks them again, refusing a body that does not match
    /// (XAmzContentSHA256Mismatch). A PUT is atomic: a body refused, cut off or stopped leaves nothing under the key. The
    /// SDK's retries start the body over from the source (<see cref="UploadBody"/>).
    /// </summary>
    private async Task PutStreamedAsync(string key, VerifyingReadStream content, Digest digest, long size, ObjectClass objectClass,
        Action<long>? progress, CancellationToken cancellationToken)
    {
        await using var body = new UploadBody(content, size, progress);
        var request = new PutObjectRequest { BucketName = _bucket, Key = key, InputStream = body, AutoCloseStream = false, UseChunkEncoding = false };
        _client.SetPayloadHash(request, digest.Hex);
        var storageClass = StorageClassFor(objectClass);
        if (storageClass is not null) request.StorageClass = S3StorageClass.FindValue(storageClass);
        try
        {
            await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (body.Failure is { } failure)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "XAmzContentSHA256Mismatch")
        {
            throw new S3loException(ErrorIds.DigestMismatch, S3loErrorKind.InvalidData,
                $"{Location} refused the bytes sent for '{key}': they do not hash to {digest}.", digest.ToString(), e);
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    private async Task PutMultipartAsync(string key, VerifyingReadStream content, ObjectClass objectClass, Action<long>? progress,
        CancellationToken cancellationToken)
    {
        var initiate = new InitiateMultipartUploadRequest { BucketName = _bucket, Key = key };
        var storageClass = StorageClassFor(objectClass);
        if (storageClass is not null) initiate.StorageClass = S3StorageClass.FindValue(storageClass);
        var uploadId = (await Call(Location, key, () => _client.InitiateMultipartUploadAsync(initiate, cancellationToken)).ConfigureAwait(false)).UploadId;
        using var failure = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var parts = new List<Task<PartETag>>();
        try
        {
            for (var partNumber = 1; ; partNumber++)
            {
                var buffer = await _partBuffers.RentAsync(failure.Token).ConfigureAwait(false);
                int length;
                try
                {
                    length = await ReadPartAsync(content, buffer, failure.Token).ConfigureAwait(false);
                }
                catch
                {
                    _partBuffers.Return(buffer);
                    throw;
                }
                if (length == 0)
                {
                    _partBuffers.Return(buffer);
                    break;
                }
                // On the thread pool: the part's hash and send overlap with reading (and hashing) the next part.
                var number = partNumber;
                parts.Add(Task.Run(() => UploadPartAsync(key, uploadId, number, buffer, length, progress, failure)));
            }
            await content.DrainAndVerifyAsync(failure.Token).ConfigureAwait(false);
            var etags = await Task.WhenAll(parts).ConfigureAwait(false);
            await Call(Location, key, () => _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _bucket, Key = key, UploadId = uploadId, PartETags = etags.ToList(),
            }, cancellationToken)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await failure.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(parts).ConfigureAwait(false);
            }
            catch
            {
                // Reported below: the part that failed first, not the cancellations it caused.
            }
            try
            {
                await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = uploadId },
                    CancellationToken.None).ConfigureAwait(false);
            }
            catch (AmazonServiceException)
            {
                // The bucket's lifecycle rules or a later upload clean up what an abort could not.
            }
            var partFailure = parts.Where(p => p.IsFaulted).Select(p => p.Exception!.InnerException).FirstOrDefault(x => x is not OperationCanceledException);
            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested && partFailure is not null)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(partFailure);
            throw;
        }
    }

    private async Task<PartETag> UploadPartAsync(string key, string uploadId, int partNumber, byte[] buffer, int length,
        Action<long>? progress, CancellationTokenSource failure)
    {
        try
        {
            using var body = new MemoryStream(buffer, 0, length, writable: false);
            var request = new UploadPartRequest
            {
                BucketName = _bucket, Key = key, UploadId = uploadId, PartNumber = partNumber, InputStream = body, PartSize = length,
                UseChunkEncoding = false,
            };
            _client.SetPayloadHash(request, _client.SignsPayloads ? Sha256Hex(buffer.AsSpan(0, length)) : PayloadHashS3Client.UnsignedPayload);
            var response = await Call(Location, key, () => _client.UploadPartAsync(request, failure.Token)).ConfigureAwait(false);
            progress?.Invoke(length);
            return new PartETag(partNumber, response.ETag);
        }
        catch
        {
            await failure.CancelAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            _partBuffers.Return(buffer);
        }
    }

    // A part is PartSize bytes, fewer only at the end of the content.
    private static ValueTask<int> ReadPartAsync(Stream content, byte[] buffer, CancellationToken cancellationToken)
        => content.ReadAtLeastAsync(buffer.AsMemory(0, PartSize), PartSize, throwOnEndOfStream: false, cancellationToken);

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? token = null;
        do
        {
            var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix, ContinuationToken = token };
            var page = await Call(Location, prefix,
                () => RetrySchedule.Store.RunAsync(() => _client.ListObjectsV2Async(request, cancellationToken), IsCutOff, cancellationToken)).ConfigureAwait(false);
            foreach (var o in page.S3Objects ?? [])
                yield return new ObjectInfo(o.Key, o.Size ?? 0, ToOffset(o.LastModified), o.ETag, o.StorageClass?.Value);
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (token is not null);
    }

    public async Task DeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        foreach (var batch in keys.Chunk(DeleteBatchSize))
        {
            var request = new DeleteObjectsRequest { BucketName = _bucket, Objects = batch.Select(k => new KeyVersion { Key = k }).ToList() };
            var response = await Call(Location, batch[0], () => _client.DeleteObjectsAsync(request, cancellationToken)).ConfigureAwait(false);
            if (response.DeleteErrors is { Count: > 0 } errors)
                throw new S3loException(ErrorIds.StoreError, S3loErrorKind.WriteError,
                    $"{errors.Count} object(s) could not be deleted from {Location}, first '{errors[0].Key}': {errors[0].Code} {errors[0].Message}",
                    errors[0].Key);
        }
    }

    /// <summary>
    /// Deletes each object with one DeleteObject, sixteen at a time, conditional twice over: If-Match on the ETag judged
    /// (which a touch does not change: S3's ETag follows the bytes), and <c>x-amz-delete-if-unmodified-since</c> on the
    /// LastModified judged, which Ceph RGW honours (412 when the object was touched since) and AWS ignores. The condition
    /// is read to the second, as RGW compares it. A 412 leaves the object: touched or rewritten since the judgement.
    /// </summary>
    public async Task<IReadOnlyList<ObjectInfo>> DeleteIfUnchangedAsync(IReadOnlyCollection<ObjectInfo> judged, CancellationToken cancellationToken)
    {
        var deleted = new ObjectInfo?[judged.Count];
        await Parallel.ForEachAsync(judged.Select((info, i) => (info, i)),
            new ParallelOptions { MaxDegreeOfParallelism = ParallelDeletes, CancellationToken = cancellationToken },
            async (item, ct) =>
            {
                var request = new DeleteObjectRequest { BucketName = _bucket, Key = item.info.Key, IfMatch = item.info.ETag };
                _deleteConditions[request] = item.info.LastModified.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'.000Z'", CultureInfo.InvariantCulture);
                try
                {
                    await _client.DeleteObjectAsync(request, ct).ConfigureAwait(false);
                    deleted[item.i] = item.info;
                }
                catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.PreconditionFailed || IsMissingKey(e))
                {
                    // Touched or rewritten since the judgement: not ours to delete.
                }
                catch (Exception e) when (Translate(e, item.info.Key) is { } translated)
                {
                    throw translated;
                }
                finally
                {
                    _deleteConditions.TryRemove(request, out _);
                }
            }).ConfigureAwait(false);
        return deleted.OfType<ObjectInfo>().ToList();
    }

    // Attached once, in the constructor, like CaptureDate: adds the condition the SDK has no property for, before signing.
    private void AddDeleteCondition(object sender, RequestEventArgs e)
    {
        if (e is WebServiceRequestEventArgs request && request.Request is { } original && _deleteConditions.TryGetValue(original, out var since))
            request.Headers["x-amz-delete-if-unmodified-since"] = since;
    }

    /// <summary>Every multipart upload started in the bucket and neither completed nor aborted (a push killed mid-blob).</summary>
    public async IAsyncEnumerable<IncompleteWrite> ListIncompleteWritesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? keyMarker = null, uploadIdMarker = null;
        do
        {
            var request = new ListMultipartUploadsRequest { BucketName = _bucket, KeyMarker = keyMarker, UploadIdMarker = uploadIdMarker };
            var page = await Call(Location, "", () => _client.ListMultipartUploadsAsync(request, cancellationToken)).ConfigureAwait(false);
            foreach (var upload in page.MultipartUploads ?? [])
                yield return new IncompleteWrite(upload.Key, upload.UploadId, 0, ToOffset(upload.Initiated));
            (keyMarker, uploadIdMarker) = page.IsTruncated == true ? (page.NextKeyMarker, page.NextUploadIdMarker) : (null, null);
        } while (keyMarker is not null);
    }

    /// <summary>Aborts the multipart upload; one already completed or aborted is not an error, and reports false.</summary>
    public async Task<bool> AbortIncompleteWriteAsync(IncompleteWrite write, CancellationToken cancellationToken)
    {
        try
        {
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = write.Key, UploadId = write.Id },
                cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchUpload" || e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            return false;
        }
        catch (Exception e) when (Translate(e, write.Key) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// Copies the object onto itself, which S3 allows only when something about it is replaced: the
    /// metadata is replaced by the same content type, user metadata and storage class, so only
    /// LastModified changes. Objects above the single-copy limit of 5 GiB are copied part by part.
    /// </summary>
    /// <summary>
    /// Copies the object onto itself with what a HEAD says of it. A key this store touched before is copied with what it
    /// had then, only if it is still the version that copy left (its ETag): a push touches what it reuses before its upload
    /// and again after its publish, and the second touch is then one request instead of two.
    /// </summary>
    public async Task<bool> TouchAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            if (_touched.Get(key) is { } last)
            {
                try
                {
                    var again = await _client.CopyObjectAsync(SelfCopy(key, last.ContentType, last.StorageClass, last.Metadata, last.ETag), cancellationToken)
                        .ConfigureAwait(false);
                    _touched.Set(key, last with { ETag = again.ETag });
                    return true;
                }
                catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.PreconditionFailed || IsMissingKey(e))
                {
                    // Changed or gone since: a HEAD says which.
                    _touched.Remove(key);
                }
            }
            var head = await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _bucket, Key = key }, cancellationToken)
                .ConfigureAwait(false);
            if (head.ContentLength <= MaxSingleCopySize)
            {
                var metadata = head.Metadata.Keys.Select(name => KeyValuePair.Create(name, head.Metadata[name])).ToList();
                var copied = await _client.CopyObjectAsync(SelfCopy(key, head.Headers.ContentType, head.StorageClass, metadata, null), cancellationToken)
                    .ConfigureAwait(false);
                _touched.Set(key, new TouchedObject(head.Headers.ContentType, head.StorageClass, metadata, copied.ETag));
            }
            else
            {
                await CopyOntoItselfInPartsAsync(key, head, cancellationToken).ConfigureAwait(false);
            }
            return true;
        }
        catch (AmazonS3Exception e) when (IsMissingKey(e))
        {
            return false;
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    private CopyObjectRequest SelfCopy(string key, string? contentType, S3StorageClass? storageClass, IReadOnlyList<KeyValuePair<string, string>> metadata,
        string? ifETag)
    {
        var copy = new CopyObjectRequest
        {
            SourceBucket = _bucket, SourceKey = key, DestinationBucket = _bucket, DestinationKey = key,
            MetadataDirective = S3MetadataDirective.REPLACE, ContentType = contentType, StorageClass = storageClass,
        };
        if (ifETag is not null) copy.ETagToMatch = ifETag;
        foreach (var (name, value) in metadata) copy.Metadata.Add(name, value);
        return copy;
    }

    /// <summary>What a self-copy of a key was made with, and the ETag it left.</summary>
    private sealed record TouchedObject(string? ContentType, S3StorageClass? StorageClass, IReadOnlyList<KeyValuePair<string, string>> Metadata, string ETag);

    private async Task CopyOntoItselfInPartsAsync(string key, GetObjectMetadataResponse head, CancellationToken cancellationToken)
    {
        var initiate = new InitiateMultipartUploadRequest { BucketName = _bucket, Key = key, ContentType = head.Headers.ContentType, StorageClass = head.StorageClass };
        foreach (var name in head.Metadata.Keys) initiate.Metadata.Add(name, head.Metadata[name]);
        var uploadId = (await _client.InitiateMultipartUploadAsync(initiate, cancellationToken).ConfigureAwait(false)).UploadId;
        try
        {
            var parts = new List<PartETag>();
            for (long first = 0; first < head.ContentLength; first += CopyPartSize)
            {
                var part = await _client.CopyPartAsync(new CopyPartRequest
                {
                    SourceBucket = _bucket, SourceKey = key, DestinationBucket = _bucket, DestinationKey = key, UploadId = uploadId,
                    PartNumber = parts.Count + 1, FirstByte = first, LastByte = Math.Min(first + CopyPartSize, head.ContentLength) - 1,
                }, cancellationToken).ConfigureAwait(false);
                parts.Add(new PartETag(parts.Count + 1, part.ETag));
            }
            await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _bucket, Key = key, UploadId = uploadId, PartETags = parts,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = uploadId },
                CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Reads the <c>Date</c> header of a one-key listing: S3 has no clock API, and this needs no write and
    /// no permission beyond the listing a collection needs anyway. The header has whole seconds, so the
    /// time is up to a second behind, which makes ages look younger: the safe side for a collection.
    /// </summary>
    public async Task<DateTimeOffset> GetClockAsync(CancellationToken cancellationToken)
    {
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = "s3lo.yaml", MaxKeys = 1 };
        _clockReadings[request] = null;
        string? date;
        try
        {
            await Call(Location, request.Prefix, () => _client.ListObjectsV2Async(request, cancellationToken)).ConfigureAwait(false);
        }
        finally
        {
            _clockReadings.TryRemove(request, out date);
        }
        if (!DateTimeOffset.TryParseExact(date, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var now))
            throw new S3loException(ErrorIds.StoreError, S3loErrorKind.ReadError,
                $"{Location} did not say its time (Date header '{date ?? "missing"}'), so the age of its objects cannot be judged.", Location.ToString());
        return now;
    }

    // The handler is attached once, in the constructor: adding and removing it while other requests are in flight
    // races with the SDK invoking it. It keeps the Date header of the clock requests only.
    private void CaptureDate(object sender, ResponseEventArgs e)
    {
        if (e is WebServiceResponseEventArgs response && response.Request is { } request && _clockReadings.ContainsKey(request))
            _clockReadings.TryUpdate(request,
                response.ResponseHeaders.FirstOrDefault(h => h.Key.Equals("Date", StringComparison.OrdinalIgnoreCase)).Value, null);
    }

    private string? StorageClassFor(ObjectClass objectClass) => objectClass == ObjectClass.Blob ? _blobStorageClass : _metadataStorageClass;

    private static DateTimeOffset ToOffset(DateTime? value)
        => value is { } v ? new DateTimeOffset(v.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(v, DateTimeKind.Utc) : v.ToUniversalTime()) : DateTimeOffset.MinValue;

    // A 404 whose error body was cut off arrives as AmazonUnmarshallingException, without an error code: the status decides.
    private static bool IsMissingKey(AmazonServiceException e)
        => e.ErrorCode is "NoSuchKey" || (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket");

    /// <summary>
    /// An answer that broke off, which the SDK does not retry once it has handed out the response or begun to parse
    /// it: a reset or an early end of the body, or an error body that could not be parsed (other than a 404, which
    /// says enough). A request the SDK itself retried to the end is not retried again.
    /// </summary>
    private static bool IsCutOff(Exception e) => e switch
    {
        AmazonUnmarshallingException { StatusCode: not HttpStatusCode.NotFound } => true,
        // The SDK lets this one out raw when an error body breaks off before its root element.
        IOException or System.Xml.XmlException => true,
        AmazonClientException { InnerException: IOException } => true,
        _ => false,
    };

    private static async Task<T> Call<T>(StoreLocation location, string key, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception e) when (TranslateFor(location, e, key) is { } translated)
        {
            throw translated;
        }
    }

    private S3loException? Translate(Exception e, string key) => TranslateFor(Location, e, key);

    private static S3loException? TranslateFor(StoreLocation location, Exception e, string key) => e switch
    {
        AmazonS3Exception { ErrorCode: "NoSuchBucket" } s3 => new S3loException(ErrorIds.StoreNotFound, S3loErrorKind.NotFound,
            $"The bucket '{location.Root}' does not exist.", location.ToString(), s3),
        AmazonS3Exception { StatusCode: HttpStatusCode.Forbidden } s3 => new S3loException(ErrorIds.StoreAccessDenied, S3loErrorKind.PermissionDenied,
            $"Access to '{key}' in {location} was denied: {s3.ErrorCode} {s3.Message}", key, s3),
        AmazonServiceException { StatusCode: not 0 } service => new S3loException(ErrorIds.StoreError, S3loErrorKind.ReadError,
            $"{location} answered {(int)service.StatusCode} {service.ErrorCode} for '{key}': {service.Message}", key, service),
        // No HTTP status: the request never got an answer.
        AmazonServiceException or AmazonClientException or HttpRequestException =>
            new S3loException(ErrorIds.StoreUnreachable, S3loErrorKind.ConnectionError, $"{location} cannot be reached: {e.Message}", location.ToString(), e),
        // An answer that kept breaking off after its retries.
        IOException or System.Xml.XmlException => new S3loException(ErrorIds.TransferInterrupted, S3loErrorKind.ReadError,
            $"The answer of {location} for '{key}' was cut off: {e.Message}", key, e),
        // A timeout, not the caller cancelling: the SDK's HttpClient reports it as a cancellation with a TimeoutException inside.
        TimeoutException or OperationCanceledException { InnerException: TimeoutException } =>
            new S3loException(ErrorIds.StoreUnreachable, S3loErrorKind.ConnectionError, $"{location} did not answer in time for '{key}'.", location.ToString(), e),
        _ => null,
    };

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        _partBuffers.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// At most <c>count</c> buffers of <c>size</c> bytes, made on first need and reused; renting waits while all
    /// are out. Not ArrayPool.Shared: it keeps returned arrays in per-thread and per-core slots and allocates a new
    /// one when the renting thread finds none there, so with parts finishing on many pool threads the number of
    /// 8 MiB arrays alive is not bounded by the number of slots; here it is.
    /// </summary>
    private sealed class PartBuffers(int count, int size) : IDisposable
    {
        private readonly SemaphoreSlim _slots = new(count);
        private readonly ConcurrentStack<byte[]> _free = new();

        public async ValueTask<byte[]> RentAsync(CancellationToken cancellationToken)
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            return _free.TryPop(out var buffer) ? buffer : GC.AllocateUninitializedArray<byte>(size);
        }

        public void Return(byte[] buffer)
        {
            _free.Push(buffer);
            _slots.Release();
        }

        public void Dispose()
        {
            _free.Clear();
            _slots.Dispose();
        }
    }

    /// <summary>Keeps the GET response alive while its body is read, and releases it with the stream.</summary>
    private sealed class ResponseStream(GetObjectResponse response) : ReadOnlyStream
    {
        private readonly Stream _inner = response.ResponseStream;
        public GetObjectResponse Response => response;
        public override long Length => response.ContentLength;
        public override int Read(Span<byte> buffer) => _inner.Read(buffer);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);
        protected override void Dispose(bool disposing)
        {
            if (disposing) response.Dispose();
            base.Dispose(disposing);
        }
    }
}
