using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Sas;
using S3lo.Core.Diagnostics;
using S3lo.Core.IO;
using S3lo.Core.Oci;

namespace S3lo.Core.Storage.Azure;

/// <summary>
/// A store in an Azure Blob Storage container; blob names are the store's keys. A blob above <see cref="BlockSize"/>
/// whose source can be read again from its start (a file) goes up as one Put Blob streamed from it, up to 5000 MiB; any
/// other is staged as blocks read one after another (so the digest is computed while streaming) and sent concurrently,
/// and the block list is committed only when the digest matched (its staged blocks otherwise stay uncommitted and
/// expire). Either way a bad blob never becomes visible, and no blob is ever held whole in memory: at most
/// <see cref="MaxBufferedBlocks"/> block buffers exist per store.
/// </summary>
public sealed class AzureObjectStore : IObjectStore, IIncompleteWrites, IRangedReads, IPresignedReads
{
    public const int BlockSize = 8 << 20;
    private const int MaxBufferedBlocks = 8;
    private const int MaxBlocksPerBlob = 50_000;
    // The largest Put Blob the service takes (since API version 2019-12-12).
    private const long MaxPutBlobSize = 5000L << 20;
    private const int MaxParallelDeletes = 16;
    private const string ArchiveTier = "Archive";
    // Compared as strings: a BlobErrorCode cannot be made from the null code of an answer without an error body.
    private const string BlobNotFound = "BlobNotFound";
    private const string ContainerNotFound = "ContainerNotFound";
    private const string BlobAlreadyExists = "BlobAlreadyExists";
    private const string InvalidBlockList = "InvalidBlockList";

    private readonly BlobContainerClient _container;
    private readonly bool _signsWithIdentity;
    private readonly AccessTier? _blobTier;
    private readonly AccessTier? _metadataTier;
    private readonly SemaphoreSlim _blockBuffers = new(MaxBufferedBlocks);
    private readonly TouchedObjects<TouchedBlob> _touched = new();

    private AzureObjectStore(StoreLocation location, BlobContainerClient container, AzureConnectionOptions options)
    {
        Location = location;
        _container = container;
        // Only a client built from none of these signs in with DefaultAzureCredential (CreateContainerClient).
        _signsWithIdentity = string.IsNullOrEmpty(options.ConnectionString) && string.IsNullOrEmpty(options.AccountKey) && string.IsNullOrEmpty(options.SasToken);
        _blobTier = TierOf(options.BlobTier);
        _metadataTier = TierOf(options.MetadataTier);
    }

    public StoreLocation Location { get; }

    /// <summary>Checks the options and builds the client; nothing is sent until the first operation.</summary>
    public static Task<AzureObjectStore> OpenAsync(StoreLocation location, AzureConnectionOptions options, CancellationToken cancellationToken)
    {
        if (location.Provider != AzureStoreProvider.Instance) throw new ArgumentException("Not an Azure store.", nameof(location));
        cancellationToken.ThrowIfCancellationRequested();
        foreach (var tier in new[] { options.BlobTier, options.MetadataTier })
        {
            // An archived blob cannot be read until it is rehydrated, which takes hours: a store could not pull its own images.
            if (string.Equals(tier, ArchiveTier, StringComparison.OrdinalIgnoreCase))
                throw new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                    "The Archive tier cannot hold a store: archived blobs cannot be read until they are rehydrated. Use Hot, Cool or Cold.", tier);
        }
        return Task.FromResult(new AzureObjectStore(location, CreateContainerClient(location.Root, options), options));
    }

    // Azure.Core's own transport settings (no redirects, no cookies, its own per-try timeouts), with each request traced.
    private static readonly HttpClientTransport TracedTransport = new(new HttpClient(new TracingHandler("Azure",
        new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) }))
    {
        Timeout = Timeout.InfiniteTimeSpan,
    });

    private static BlobContainerClient CreateContainerClient(string container, AzureConnectionOptions options)
    {
        // Five retries as on S3, with backoff from 0.2 s: the storage defaults wait some 20 s before reporting even a refused connection.
        var clientOptions = new BlobClientOptions
        {
            Diagnostics = { ApplicationId = "S3lo" },
            Retry = { Mode = RetryMode.Exponential, MaxRetries = 5, Delay = TimeSpan.FromSeconds(0.2), MaxDelay = TimeSpan.FromSeconds(10) },
            Transport = TracedTransport,
        };
        if (!string.IsNullOrEmpty(options.ConnectionString))
        {
            try
            {
                return new BlobContainerClient(options.ConnectionString, container, clientOptions);
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                // The message names no part of the string: it holds the account key.
                throw new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                    "The Azure storage connection string is not valid: " + e.Message, null, e);
            }
        }
        var endpoint = ServiceEndpoint(options);
        var containerUri = new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/" + container);
        if (!string.IsNullOrEmpty(options.AccountKey))
        {
            var account = options.AccountName ?? new BlobUriBuilder(endpoint).AccountName;
            if (string.IsNullOrEmpty(account)) throw AccountRequired("An account key");
            StorageSharedKeyCredential credential;
            try
            {
                credential = new StorageSharedKeyCredential(account, options.AccountKey);
            }
            catch (FormatException e)
            {
                throw new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                    $"The key of the storage account '{account}' is not valid base64.", account, e);
            }
            return new BlobContainerClient(containerUri, credential, clientOptions);
        }
        if (!string.IsNullOrEmpty(options.SasToken))
            return new BlobContainerClient(containerUri, new AzureSasCredential(options.SasToken.TrimStart('?')), clientOptions);
        // The SDK refuses to send a bearer token in clear text, but only on the first request and with an error that names no option.
        if (endpoint.Scheme != Uri.UriSchemeHttps)
            throw new S3loException(ErrorIds.CredentialsNotFound, S3loErrorKind.InvalidArgument,
                $"Signing in with an Azure identity needs an https endpoint, not {endpoint}: give an account key, a SAS token or a connection string.",
                endpoint.ToString());
        return new BlobContainerClient(containerUri, new DefaultAzureCredential(), clientOptions);
    }

    private static Uri ServiceEndpoint(AzureConnectionOptions options)
    {
        if (!string.IsNullOrEmpty(options.EndpointUrl))
        {
            if (!Uri.TryCreate(options.EndpointUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                throw new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                    $"'{options.EndpointUrl}' is not an http or https URL of a blob service.", options.EndpointUrl);
            return uri;
        }
        if (string.IsNullOrEmpty(options.AccountName)) throw AccountRequired("A store in Azure Blob Storage");
        var valid = options.AccountName.Length is >= 3 and <= 24 && options.AccountName.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9'));
        if (!valid)
            throw new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                $"'{options.AccountName}' is not a valid storage account name: 3 to 24 lowercase letters and digits.", options.AccountName);
        return new Uri($"https://{options.AccountName}.blob.core.windows.net");
    }

    private static S3loException AccountRequired(string what)
        => new(ErrorIds.StorageAccountRequired, S3loErrorKind.InvalidArgument,
            $"{what} needs a storage account: give its name (or set AZURE_STORAGE_ACCOUNT), a connection string " +
            "(or set AZURE_STORAGE_CONNECTION_STRING), or the blob endpoint URL.");

    public async Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            BlobProperties properties = await RetrySchedule.Store.RunAsync(
                async () => (await Blob(key).GetPropertiesAsync(null, cancellationToken).ConfigureAwait(false)).Value, IsCutOff, cancellationToken)
                .ConfigureAwait(false);
            return new ObjectInfo(key, properties.ContentLength, properties.LastModified, properties.ETag.ToString(), properties.AccessTier);
        }
        catch (RequestFailedException e) when (IsMissingBlob(e))
        {
            return null;
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>The body is read inside the retry: one cut off beyond what the SDK resumes is asked for again, whole.</summary>
    public async Task<StoredObject?> GetBytesAsync(string key, long maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            return await RetrySchedule.Store.RunAsync(async () =>
            {
                using BlobDownloadStreamingResult download = await Blob(key).DownloadStreamingAsync(null, cancellationToken).ConfigureAwait(false);
                var details = download.Details;
                if (details.ContentLength > maxBytes) throw StoreErrors.TooLarge(key, maxBytes);
                var bytes = new byte[details.ContentLength];
                await download.Content.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
                return new StoredObject(bytes, new ObjectInfo(key, bytes.Length, details.LastModified, details.ETag.ToString(), details.AccessTier))
                {
                    Metadata = ObjectMetadata.FromStore(details.Metadata),
                };
            }, IsCutOff, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (IsMissingBlob(e))
        {
            return null;
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// The SDK's download stream resumes a broken body a few times itself; when it gives up, the read is resumed here with
    /// a ranged download of the same version (If-Match its ETag) from the byte reached.
    /// </summary>
    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => OpenRangeAsync(key, 0, null, cancellationToken);

    public Task<Stream> OpenReadAsync(string key, long offset, long length, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        return OpenRangeAsync(key, offset, length, cancellationToken);
    }

    /// <summary><paramref name="length"/> bytes of the object (null: all) from <paramref name="offset"/>, resumed from the
    /// byte reached when the body breaks off.</summary>
    private async Task<Stream> OpenRangeAsync(string key, long offset, long? length, CancellationToken cancellationToken)
    {
        var budget = new AttemptBudget(RetrySchedule.Store);
        budget.Take();
        var first = await OpenFromAsync(key, offset, length, null, cancellationToken).ConfigureAwait(false);
        var etag = first.Download.Details.ETag;
        return new ResumingReadStream(first, first.Download.Details.ContentLength,
            async (reached, ct) =>
            {
                budget.Take();
                return await OpenFromAsync(key, offset + reached, length - reached, etag, ct).ConfigureAwait(false);
            },
            // The SDK's stream re-requests on its own and lets out the error answer it got when it gives up.
            (e, ct) => IsCutOff(e) || e is S3loException { Kind: S3loErrorKind.ConnectionError } || (e is OperationCanceledException && !ct.IsCancellationRequested)
                       || e is RequestFailedException { Status: 0 or >= 500 },
            e => Translate(e, key), budget, $"'{key}' in {Location}", key);
    }

    public string? PresignUnavailableReason
        => _container.CanGenerateSasUri || _signsWithIdentity ? null
            : $"{Location} is reached with a SAS token of its own, which S3lo cannot narrow to one blob: give an account key or sign in with an Azure identity.";

    /// <summary>A read-only SAS for one blob: signed with the account key, or else with a user delegation key for the identity signed in.</summary>
    public async Task<Uri> PresignReadAsync(string key, TimeSpan validFor, CancellationToken cancellationToken)
    {
        var blob = Blob(key);
        var sas = new BlobSasBuilder(BlobSasPermissions.Read, DateTimeOffset.UtcNow + validFor)
        {
            BlobContainerName = _container.Name, BlobName = key, Resource = "b",
            // A little slack for a client whose clock runs behind the store's.
            StartsOn = DateTimeOffset.UtcNow.AddMinutes(-5),
        };
        if (blob.CanGenerateSasUri) return blob.GenerateSasUri(sas);
        try
        {
            var service = _container.GetParentBlobServiceClient();
            var delegation = await service.GetUserDelegationKeyAsync(sas.StartsOn, sas.ExpiresOn, cancellationToken).ConfigureAwait(false);
            return blob.GenerateUserDelegationSasUri(sas, delegation.Value);
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    private async Task<DownloadStream> OpenFromAsync(string key, long offset, long? length, ETag? etag, CancellationToken cancellationToken)
    {
        var options = new BlobDownloadOptions
        {
            Range = offset > 0 || length is not null ? new HttpRange(offset, length) : default,
            Conditions = etag is { } version ? new BlobRequestConditions { IfMatch = version } : null,
        };
        try
        {
            return new DownloadStream(await Blob(key).DownloadStreamingAsync(options, cancellationToken).ConfigureAwait(false));
        }
        catch (RequestFailedException e) when (IsMissingBlob(e))
        {
            throw new ObjectNotFoundException(key, Location);
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, CancellationToken cancellationToken)
        => UploadAsync(key, data, objectClass, default, cancellationToken);

    public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition condition,
        CancellationToken cancellationToken)
        => UploadAsync(key, data, objectClass, condition, cancellationToken);

    public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition? condition,
        IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
        => UploadAsync(key, data, objectClass, condition ?? default, cancellationToken, metadata);

    /// <summary>One Put Blob: atomic, and conditional on the server (If-None-Match: * or If-Match), so racing writers cannot both win.</summary>
    private async Task UploadAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition condition,
        CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var options = new BlobUploadOptions
        {
            AccessTier = TierFor(objectClass),
            Metadata = metadata is { Count: > 0 } ? new Dictionary<string, string>(metadata) : null,
            Conditions = condition.MustNotExist ? new BlobRequestConditions { IfNoneMatch = ETag.All }
                : condition.ExpectedETag is { } etag ? new BlobRequestConditions { IfMatch = new ETag(etag) }
                : null,
        };
        try
        {
            await using var body = BinaryData.FromBytes(data).ToStream();
            await BlockBlob(key).UploadAsync(body, options, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (options.Conditions is not null && IsConditionFailure(e))
        {
            throw new PreconditionFailedException(key, Location);
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    // 409 BlobAlreadyExists is the answer to If-None-Match: * on a blob that exists, 412 ConditionNotMet to a failed If-Match.
    private static bool IsConditionFailure(RequestFailedException e)
        => e.Status == 412 || (e.Status == 409 && e.ErrorCode == BlobAlreadyExists);

    public async Task PutVerifiedAsync(string key, Stream content, Digest digest, long size, ObjectClass objectClass,
        Action<long>? progress, CancellationToken cancellationToken)
    {
        await using var lease = VerifyingReadStream.Over(content, digest, size, $"blob {digest}");
        var verified = lease.Stream;
        if (size is > BlockSize and <= MaxPutBlobSize && verified.CanRestart)
        {
            await PutWholeAsync(key, verified, size, objectClass, progress, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (size is >= 0 and <= BlockSize)
        {
            await _blockBuffers.WaitAsync(cancellationToken).ConfigureAwait(false);
            var buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
            try
            {
                var length = await ReadBlockAsync(verified, buffer, BlockSize, cancellationToken).ConfigureAwait(false);
                await verified.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
                await UploadAsync(key, buffer.AsMemory(0, length), objectClass, default, cancellationToken).ConfigureAwait(false);
                progress?.Invoke(length);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
                _blockBuffers.Release();
            }
            return;
        }
        await PutInBlocksAsync(key, verified, size, objectClass, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One Put Blob of the whole blob, streamed from a source that can be read again from its start. The blob appears
    /// only when the body is complete, and the verifying stream checks the digest on the read that reaches the size,
    /// before it hands out those last bytes: a wrong body is never sent whole, so the request fails and nothing is
    /// stored. The SDK's retries start the body over from the source (<see cref="UploadBody"/>).
    /// </summary>
    private async Task PutWholeAsync(string key, VerifyingReadStream content, long size, ObjectClass objectClass, Action<long>? progress,
        CancellationToken cancellationToken)
    {
        await using var body = new UploadBody(content, size, progress);
        try
        {
            // The SDK's own threshold for one request is 256 MiB; above it, it stages blocks of its own, buffered.
            var options = new BlobUploadOptions { AccessTier = TierFor(objectClass), TransferOptions = new StorageTransferOptions { InitialTransferSize = MaxPutBlobSize } };
            await BlockBlob(key).UploadAsync(body, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (body.Failure is { } failure)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    private async Task PutInBlocksAsync(string key, VerifyingReadStream content, long size, ObjectClass objectClass, Action<long>? progress,
        CancellationToken cancellationToken)
    {
        var blob = BlockBlob(key);
        // A blob has at most 50,000 committed blocks: very large ones need larger blocks.
        var blockSize = (int)Math.Max(BlockSize, (size + MaxBlocksPerBlob - 1) / MaxBlocksPerBlob);
        // Another writer of the same key stages into the same uncommitted list: ids of our own keep its blocks from replacing ours.
        var upload = Guid.NewGuid();
        using var failure = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var blocks = new List<Task<string>>();
        try
        {
            for (var index = 0; ; index++)
            {
                await _blockBuffers.WaitAsync(failure.Token).ConfigureAwait(false);
                var buffer = ArrayPool<byte>.Shared.Rent(blockSize);
                int length;
                try
                {
                    length = await ReadBlockAsync(content, buffer, blockSize, failure.Token).ConfigureAwait(false);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    _blockBuffers.Release();
                    throw;
                }
                if (length == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    _blockBuffers.Release();
                    break;
                }
                blocks.Add(StageBlockAsync(blob, BlockId(upload, index), buffer, length, progress, failure));
            }
            await content.DrainAndVerifyAsync(failure.Token).ConfigureAwait(false);
            var ids = await Task.WhenAll(blocks).ConfigureAwait(false);
            await CommitAsync(blob, ids, size, objectClass, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await failure.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(blocks).ConfigureAwait(false);
            }
            catch
            {
                // Reported below: the block that failed first, not the cancellations it caused.
            }
            var blockFailure = blocks.Where(b => b.IsFaulted).Select(b => b.Exception!.InnerException).FirstOrDefault(x => x is not OperationCanceledException);
            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested && blockFailure is not null)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(blockFailure);
            throw;
        }
    }

    /// <summary>
    /// Commits the staged blocks. A commit discards every uncommitted block not in its list, so when another writer
    /// committed the same key first, ours are gone (InvalidBlockList). Keys written this way are named by their content,
    /// so a blob of the same size that is there now is the one we meant to write.
    /// </summary>
    private async Task CommitAsync(BlockBlobClient blob, string[] ids, long size, ObjectClass objectClass, CancellationToken cancellationToken)
    {
        try
        {
            await blob.CommitBlockListAsync(ids, new CommitBlockListOptions { AccessTier = TierFor(objectClass) }, cancellationToken)
                .ConfigureAwait(false);
            return;
        }
        catch (RequestFailedException e) when (e.ErrorCode == InvalidBlockList)
        {
            var committed = await HeadAsync(blob.Name, cancellationToken).ConfigureAwait(false);
            if (committed is not null && (size < 0 || committed.Size == size)) return;
            throw Translate(e, blob.Name)!;
        }
        catch (Exception e) when (Translate(e, blob.Name) is { } translated)
        {
            throw translated;
        }
    }

    private async Task<string> StageBlockAsync(BlockBlobClient blob, string id, byte[] buffer, int length, Action<long>? progress,
        CancellationTokenSource failure)
    {
        try
        {
            using var body = new MemoryStream(buffer, 0, length, writable: false);
            await blob.StageBlockAsync(id, body, new BlockBlobStageBlockOptions(), failure.Token).ConfigureAwait(false);
            progress?.Invoke(length);
            return id;
        }
        catch (Exception e)
        {
            await failure.CancelAsync().ConfigureAwait(false);
            if (Translate(e, blob.Name) is { } translated) throw translated;
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _blockBuffers.Release();
        }
    }

    // Block ids are base64 and of one length within a blob: the upload's GUID and the block's index.
    private static string BlockId(Guid upload, int index)
    {
        Span<byte> id = stackalloc byte[20];
        upload.TryWriteBytes(id);
        BinaryPrimitives.WriteInt32BigEndian(id[16..], index);
        return Convert.ToBase64String(id);
    }

    // A block is blockSize bytes, fewer only at the end of the content; the rented buffer may be larger.
    private static ValueTask<int> ReadBlockAsync(Stream content, byte[] buffer, int blockSize, CancellationToken cancellationToken)
        => content.ReadAtLeastAsync(buffer.AsMemory(0, blockSize), blockSize, throwOnEndOfStream: false, cancellationToken);

    /// <summary>Page by page, each asked for by its continuation token, so a page whose answer broke off is asked for again alone.</summary>
    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? continuation = null;
        do
        {
            var page = await Call(prefix, () => RetrySchedule.Store.RunAsync(() => ListPageAsync(prefix, continuation, cancellationToken), IsCutOff,
                cancellationToken)).ConfigureAwait(false);
            foreach (var item in page.Values)
            {
                var properties = item.Properties;
                yield return new ObjectInfo(item.Name, properties.ContentLength ?? 0, properties.LastModified ?? DateTimeOffset.MinValue,
                    properties.ETag?.ToString(), properties.AccessTier?.ToString());
            }
            continuation = string.IsNullOrEmpty(page.Continuation) ? null : page.Continuation;
        } while (continuation is not null);
    }

    private async Task<(IReadOnlyList<BlobItem> Values, string? Continuation)> ListPageAsync(string prefix, string? continuation,
        CancellationToken cancellationToken)
    {
        var pages = _container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix.Length == 0 ? null : prefix }, cancellationToken)
            .AsPages(continuation).GetAsyncEnumerator(cancellationToken);
        await using (pages.ConfigureAwait(false))
        {
            return await pages.MoveNextAsync().ConfigureAwait(false) ? (pages.Current.Values, pages.Current.ContinuationToken) : ([], null);
        }
    }

    /// <summary>One request per key (the batch API is a separate package), sixteen at a time.</summary>
    public async Task DeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = MaxParallelDeletes, CancellationToken = cancellationToken },
            async (key, ct) => await Call(key, () => Blob(key).DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, null, ct)).ConfigureAwait(false))
            .ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes each blob only if it still has the ETag judged (If-Match): a touch or a rewrite changes the ETag, so one that
    /// lands between the judgement and the delete saves the blob. Exact, like the local store.
    /// </summary>
    public async Task<IReadOnlyList<ObjectInfo>> DeleteIfUnchangedAsync(IReadOnlyCollection<ObjectInfo> judged, CancellationToken cancellationToken)
    {
        var deleted = new ObjectInfo?[judged.Count];
        await Parallel.ForEachAsync(judged.Select((info, i) => (info, i)),
            new ParallelOptions { MaxDegreeOfParallelism = MaxParallelDeletes, CancellationToken = cancellationToken },
            async (item, ct) =>
            {
                // Without an ETag there is nothing to make the delete conditional on, so it is not made.
                if (item.info.ETag is not { } etag) return;
                try
                {
                    await Blob(item.info.Key).DeleteAsync(DeleteSnapshotsOption.IncludeSnapshots, new BlobRequestConditions { IfMatch = new ETag(etag) }, ct)
                        .ConfigureAwait(false);
                    deleted[item.i] = item.info;
                }
                catch (RequestFailedException e) when (e.Status == 412 || IsMissingBlob(e))
                {
                    // Touched, rewritten or deleted since the judgement: not ours to delete.
                }
                catch (Exception e) when (Translate(e, item.info.Key) is { } translated)
                {
                    throw translated;
                }
            }).ConfigureAwait(false);
        return deleted.OfType<ObjectInfo>().ToList();
    }

    /// <summary>
    /// The blobs that have staged blocks and nothing committed (a push killed before its commit), which ordinary listings
    /// do not show: a listing that includes uncommitted blobs names them, and their block list, which has no committed
    /// block, tells them from committed blobs. The service would drop such blocks after a week by itself.
    /// </summary>
    public async IAsyncEnumerable<IncompleteWrite> ListIncompleteWritesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pages = _container.GetBlobsAsync(new GetBlobsOptions { States = BlobStates.Uncommitted }, cancellationToken)
            .AsPages().GetAsyncEnumerator(cancellationToken);
        await using (pages.ConfigureAwait(false))
        {
            while (await Call("", () => pages.MoveNextAsync().AsTask()).ConfigureAwait(false))
            {
                foreach (var item in pages.Current.Values)
                {
                    // A committed blob with content is whole; only an empty one can be an upload's placeholder.
                    if (item.Properties.ContentLength is > 0) continue;
                    BlockList blocks = await Call(item.Name, () => BlockBlob(item.Name).GetBlockListAsync(BlockListTypes.All, null, null, cancellationToken))
                        .ConfigureAwait(false);
                    if (blocks.CommittedBlocks.Any() || !blocks.UncommittedBlocks.Any()) continue;
                    yield return new IncompleteWrite(item.Name, item.Name, blocks.UncommittedBlocks.Sum(b => b.SizeLong),
                        item.Properties.LastModified ?? item.Properties.CreatedOn ?? DateTimeOffset.MinValue);
                }
            }
        }
    }

    /// <summary>
    /// Uncommitted blocks cannot be deleted on their own: committing an empty block list discards them, and is made only
    /// if no blob was committed meanwhile (If-None-Match: *); the empty blob it leaves is then deleted by its ETag.
    /// </summary>
    public async Task<bool> AbortIncompleteWriteAsync(IncompleteWrite write, CancellationToken cancellationToken)
    {
        var blob = BlockBlob(write.Key);
        try
        {
            BlobContentInfo empty = await blob.CommitBlockListAsync([], new CommitBlockListOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } },
                cancellationToken).ConfigureAwait(false);
            await blob.DeleteAsync(DeleteSnapshotsOption.IncludeSnapshots, new BlobRequestConditions { IfMatch = empty.ETag }, cancellationToken)
                .ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (IsConditionFailure(e) || IsMissingBlob(e))
        {
            return false;
        }
        catch (Exception e) when (Translate(e, write.Key) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// Sets the blob's metadata to what it already is: any write of metadata gives the blob a new Last-Modified and
    /// ETag and leaves its bytes and tier alone. The write is conditional on the ETag just read, so metadata set by
    /// someone in between is not overwritten. Its failure (412) means the blob changed since the read: rewritten,
    /// which is as good as a touch, or deleted (a collection's delete may land there), which the service answers
    /// with the same 412 rather than a 404; only a second look tells them apart.
    /// </summary>
    /// <summary>
    /// Writes the blob's metadata again, unchanged, on the version read. A key this store touched before is written with the
    /// metadata it had then, on the version that write left: a push touches what it reuses before its upload and again after
    /// its publish, and the second touch is then one request instead of two.
    /// </summary>
    public async Task<bool> TouchAsync(string key, CancellationToken cancellationToken)
    {
        var blob = Blob(key);
        try
        {
            if (_touched.Get(key) is { } last)
            {
                try
                {
                    BlobInfo again = await blob.SetMetadataAsync(last.Metadata, new BlobRequestConditions { IfMatch = last.ETag }, cancellationToken)
                        .ConfigureAwait(false);
                    _touched.Set(key, last with { ETag = again.ETag });
                    return true;
                }
                catch (RequestFailedException e) when (e.Status == 412 || IsMissingBlob(e))
                {
                    // Changed or gone since: its properties say which.
                    _touched.Remove(key);
                }
            }
            BlobProperties properties = await blob.GetPropertiesAsync(null, cancellationToken).ConfigureAwait(false);
            BlobInfo touched = await blob.SetMetadataAsync(properties.Metadata, new BlobRequestConditions { IfMatch = properties.ETag }, cancellationToken)
                .ConfigureAwait(false);
            _touched.Set(key, new TouchedBlob(properties.Metadata, touched.ETag));
            return true;
        }
        catch (RequestFailedException e) when (IsMissingBlob(e))
        {
            return false;
        }
        catch (RequestFailedException e) when (e.Status == 412)
        {
            return await HeadAsync(key, cancellationToken).ConfigureAwait(false) is not null;
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>The metadata a touch wrote to a blob and the ETag it left.</summary>
    private sealed record TouchedBlob(IDictionary<string, string> Metadata, ETag ETag);

    /// <summary>
    /// Reads the <c>Date</c> header of a one-blob listing: it needs no write and no permission beyond the listing a
    /// collection needs anyway. The header has whole seconds, so the time is up to a second behind, which makes ages
    /// look younger: the safe side for a collection.
    /// </summary>
    public async Task<DateTimeOffset> GetClockAsync(CancellationToken cancellationToken)
    {
        const string prefix = "s3lo.yaml";
        var pages = _container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, cancellationToken)
            .AsPages(pageSizeHint: 1).GetAsyncEnumerator(cancellationToken);
        DateTimeOffset? date;
        await using (pages.ConfigureAwait(false))
        {
            date = await Call(prefix, () => pages.MoveNextAsync().AsTask()).ConfigureAwait(false)
                ? pages.Current.GetRawResponse().Headers.Date
                : null;
        }
        return date ?? throw new S3loException(ErrorIds.StoreError, S3loErrorKind.ReadError,
            $"{Location} did not say its time (no Date header), so the age of its objects cannot be judged.", Location.ToString());
    }

    private BlobClient Blob(string key) => _container.GetBlobClient(key);

    private BlockBlobClient BlockBlob(string key) => _container.GetBlockBlobClient(key);

    private AccessTier? TierFor(ObjectClass objectClass) => objectClass == ObjectClass.Blob ? _blobTier : _metadataTier;

    private static AccessTier? TierOf(string? name) => string.IsNullOrEmpty(name) ? null : new AccessTier(name);

    // A HEAD answer has no body, but the service still names the error in x-ms-error-code, which the SDK reads.
    private static bool IsMissingBlob(RequestFailedException e)
        => e.ErrorCode == BlobNotFound || (e.Status == 404 && e.ErrorCode != ContainerNotFound);

    private async Task<T> Call<T>(string key, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e, key) is { } translated)
        {
            throw translated;
        }
    }

    private S3loException? Translate(Exception e, string key) => e switch
    {
        RequestFailedException { ErrorCode: ContainerNotFound } => new S3loException(ErrorIds.StoreNotFound,
            S3loErrorKind.NotFound, $"The container '{Location.Root}' does not exist.", Location.ToString(), e),
        RequestFailedException { Status: 401 or 403 } denied => new S3loException(ErrorIds.StoreAccessDenied, S3loErrorKind.PermissionDenied,
            $"Access to '{key}' in {Location} was denied: {denied.ErrorCode} {FirstLine(denied.Message)}", key, e),
        CredentialUnavailableException => new S3loException(ErrorIds.CredentialsNotFound, S3loErrorKind.PermissionDenied,
            $"No Azure credentials were found for {Location}. Give a connection string, an account key or a SAS token, sign in with " +
            "'az login' or Connect-AzAccount, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or use a managed identity).",
            Location.ToString(), e),
        AuthenticationFailedException => new S3loException(ErrorIds.StoreAccessDenied, S3loErrorKind.PermissionDenied,
            $"Signing in to Azure for {Location} failed: {FirstLine(e.Message)}", Location.ToString(), e),
        RequestFailedException { Status: not 0 } failed => new S3loException(ErrorIds.StoreError, S3loErrorKind.ReadError,
            $"{Location} answered {failed.Status} {failed.ErrorCode} for '{key}': {FirstLine(failed.Message)}", key, e),
        // An answer that kept breaking off after the SDK's retries and ours.
        _ when IsCutOff(e) => new S3loException(ErrorIds.TransferInterrupted, S3loErrorKind.ReadError,
            $"The answer of {Location} for '{key}' was cut off: {FirstLine(e.Message)}", key, e),
        // No HTTP status: the request never got an answer. After its retries the SDK reports all attempts together.
        _ when IsNoAnswer(e) => new S3loException(ErrorIds.StoreUnreachable, S3loErrorKind.ConnectionError,
            $"{Location} cannot be reached: {FirstLine(e.Message)}", Location.ToString(), e),
        _ => null,
    };

    /// <summary>
    /// An answer that broke off where the SDK no longer retries: its download stream gave up resuming (it reports every
    /// attempt together), or a body read after the SDK handed out the response ended early.
    /// </summary>
    private static bool IsCutOff(Exception e) => e switch
    {
        // A listing's body that breaks off before its root element comes out of the SDK as this, raw.
        IOException or System.Xml.XmlException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(x => x is IOException),
        _ => false,
    };

    private static bool IsNoAnswer(Exception e) => e switch
    {
        RequestFailedException { Status: 0 } or HttpRequestException or IOException or TimeoutException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0
                                        && aggregate.InnerExceptions.All(x => IsNoAnswer(x) || x is TaskCanceledException),
        _ => false,
    };

    // The SDK's messages go on with the request's headers, which make an error record hard to read.
    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    public ValueTask DisposeAsync()
    {
        _blockBuffers.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Keeps the download response alive while its body is read, and releases it with the stream.</summary>
    private sealed class DownloadStream(BlobDownloadStreamingResult download) : ReadOnlyStream
    {
        private readonly Stream _inner = download.Content;
        public BlobDownloadStreamingResult Download => download;
        public override long Length => download.Details.ContentLength;
        public override int Read(Span<byte> buffer) => _inner.Read(buffer);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);
        protected override void Dispose(bool disposing)
        {
            if (disposing) download.Dispose();
            base.Dispose(disposing);
        }
    }
}
