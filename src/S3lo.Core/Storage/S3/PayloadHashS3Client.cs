using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.Runtime.Internal;
using Amazon.S3;

namespace S3lo.Core.Storage.S3;

/// <summary>
/// An S3 client that signs a request body with a SHA-256 the caller already computed, instead of hashing the
/// body again. SigV4 signs <c>x-amz-content-sha256</c>, the hex SHA-256 of the payload; left to itself the SDK
/// either reads a seekable body once more to hash it or (the default for PutObject and UploadPart,
/// <c>UseChunkEncoding</c>) sends it aws-chunked with a SHA-256 and an HMAC per 80 KiB chunk. S3lo knows every body's
/// hash already (a blob sent whole has its digest as its SHA-256, a part is hashed once when it is cut), so the second
/// pass over the bytes - on a 2-core machine a large share of a push's CPU - is waste.
/// <para>
/// The hash reaches the signer through <see cref="IRequest.PrecomputedContentSha256"/>, which
/// <c>AWS4Signer.SetRequestBodyHash</c> uses as the payload hash when the request is not chunk-encoded; an
/// <c>x-amz-content-sha256</c> header set by the caller is removed by the signer's <c>CleanHeaders</c>, so a
/// handler just before the <see cref="Signer"/> sets it. The server still checks the bytes against the hash: a
/// wrong hash is a rejected request (<c>XAmzContentSHA256Mismatch</c>), never a stored object.
/// </para>
/// </summary>
internal sealed class PayloadHashS3Client : AmazonS3Client
{
    // Keyed by the request object; an entry lives as long as its request does.
    private readonly ConditionalWeakTable<AmazonWebServiceRequest, string> _payloadHashes = new();

    public PayloadHashS3Client(AWSCredentials credentials, AmazonS3Config config) : base(credentials, config)
    {
    }

    /// <summary>
    /// Signs <paramref name="request"/>'s body with <paramref name="sha256Hex"/> (lower-case hex of the SHA-256 of the
    /// exact bytes it sends). The request must not be chunk-encoded (<c>UseChunkEncoding = false</c>); if it is, the
    /// SDK signs it chunk by chunk as before and the hash is unused.
    /// </summary>
    public void SetPayloadHash(AmazonWebServiceRequest request, string sha256Hex) => _payloadHashes.AddOrUpdate(request, sha256Hex);

    protected override void CustomizeRuntimePipeline(RuntimePipeline pipeline)
    {
        base.CustomizeRuntimePipeline(pipeline);
        pipeline.AddHandlerBefore<Signer>(new PayloadHashHandler(_payloadHashes));
    }

    private sealed class PayloadHashHandler(ConditionalWeakTable<AmazonWebServiceRequest, string> payloadHashes) : PipelineHandler
    {
        public override void InvokeSync(IExecutionContext executionContext)
        {
            Apply(executionContext);
            base.InvokeSync(executionContext);
        }

        public override Task<T> InvokeAsync<T>(IExecutionContext executionContext)
        {
            Apply(executionContext);
            return base.InvokeAsync<T>(executionContext);
        }

        private void Apply(IExecutionContext executionContext)
        {
            var context = executionContext.RequestContext;
            if (!context.Request.UseChunkEncoding && context.OriginalRequest is { } original && payloadHashes.TryGetValue(original, out var hash))
                context.Request.PrecomputedContentSha256 = hash;
        }
    }
}
