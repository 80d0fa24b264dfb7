using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.Runtime.Internal;
using Amazon.S3;

namespace S3lo.Core.Storage.S3;

/// <summary>
/// An S3 client that never reads a request body a second time to hash it. SigV4 signs <c>x-amz-content-sha256</c>;
/// left to itself the SDK either reads a seekable body once more to hash it or (the default for PutObject and
/// UploadPart, <c>UseChunkEncoding</c>) sends it aws-chunked with a SHA-256 and an HMAC per 80 KiB chunk. S3lo knows
/// every body's hash already (a blob sent whole has its digest as its SHA-256, a part is hashed once when it is cut).
/// <list type="bullet">
/// <item>Over plain HTTP the body is signed with that hash, so the server checks every byte against it in transit: a
/// wrong body is a rejected request (<c>XAmzContentSHA256Mismatch</c>), never a stored object.</item>
/// <item>Over HTTPS the body is sent <c>UNSIGNED-PAYLOAD</c>, as the AWS SDKs and the S3 CLIs send it there: TLS already
/// protects the bytes in transit, and the server need not hash them to authorize the request (on a server without
/// SHA-256 in hardware, such as Ceph RGW 16, that hash halved the throughput of a push). A whole blob also carries
/// <c>x-amz-checksum-sha256</c>, its digest, which S3 checks against the bytes it stores, and which keeps the SDK from
/// reading the body again for a CRC32 of its own.</item>
/// </list>
/// Either way S3lo has checked the bytes against their digest as it read them, before the last of them is sent.
/// <para>
/// The hash reaches the signer through <see cref="IRequest.PrecomputedContentSha256"/>, which
/// <c>AWS4Signer.SetRequestBodyHash</c> uses as the payload hash when the request is not chunk-encoded; an
/// <c>x-amz-content-sha256</c> header set by the caller is removed by the signer's <c>CleanHeaders</c>, so a
/// handler just before the <see cref="Signer"/> sets it.
/// </para>
/// </summary>
internal sealed class PayloadHashS3Client : AmazonS3Client
{
    // Keyed by the request object; an entry lives as long as its request does.
    private readonly ConditionalWeakTable<AmazonWebServiceRequest, string> _payloadHashes = new();

    /// <summary>The payload hash of a body sent over HTTPS, where TLS protects it in transit.</summary>
    public const string UnsignedPayload = "UNSIGNED-PAYLOAD";

    public PayloadHashS3Client(AWSCredentials credentials, AmazonS3Config config, bool signsPayloads) : base(credentials, config)
    {
        SignsPayloads = signsPayloads;
    }

    /// <summary>
    /// Whether request bodies are signed with their hash: true when the endpoint is plain HTTP. Over HTTPS a body's
    /// hash is not needed (see the class remarks), so a caller need not compute one just for the signature.
    /// </summary>
    public bool SignsPayloads { get; }

    /// <summary>
    /// Signs <paramref name="request"/>'s body with <paramref name="sha256Hex"/> (lower-case hex of the SHA-256 of the
    /// exact bytes it sends) over HTTP, or sends it unsigned over HTTPS; <see cref="UnsignedPayload"/> when the caller
    /// has no hash because <see cref="SignsPayloads"/> is false. A PutObject with a hash also carries it as
    /// <c>x-amz-checksum-sha256</c> over HTTPS. The request must not be chunk-encoded (<c>UseChunkEncoding = false</c>);
    /// if it is, the SDK signs it chunk by chunk as before and the hash is unused.
    /// </summary>
    public void SetPayloadHash(AmazonWebServiceRequest request, string sha256Hex)
    {
        if (sha256Hex != UnsignedPayload && !SignsPayloads && request is Amazon.S3.Model.PutObjectRequest put)
            put.ChecksumSHA256 = Convert.ToBase64String(Convert.FromHexString(sha256Hex));
        _payloadHashes.AddOrUpdate(request, sha256Hex);
    }

    protected override void CustomizeRuntimePipeline(RuntimePipeline pipeline)
    {
        base.CustomizeRuntimePipeline(pipeline);
        // The base constructor builds the pipeline before this one sets SignsPayloads: the handler reads it per request.
        pipeline.AddHandlerBefore<Signer>(new PayloadHashHandler(this));
    }

    private sealed class PayloadHashHandler(PayloadHashS3Client client) : PipelineHandler
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
            if (!context.Request.UseChunkEncoding && context.OriginalRequest is { } original && client._payloadHashes.TryGetValue(original, out var hash))
                context.Request.PrecomputedContentSha256 = client.SignsPayloads ? hash : UnsignedPayload;
        }
    }
}
