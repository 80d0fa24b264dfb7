using System.Net;
using Amazon.Runtime;
using S3lo.Core.Diagnostics;
using S3lo.Core.IO;

namespace S3lo.Core.Storage.S3;

/// <summary>
/// The HttpClient of an S3 store: the SDK's own settings (a <see cref="SocketsHttpHandler"/> with the config's timeouts,
/// connection limit, proxy, no redirects, no decompression), except that no request carries <c>Expect: 100-continue</c>,
/// and a request that stops moving for the store's idle time fails (<see cref="IdleTimeoutHandler"/>): the SDK's own
/// settings leave an answer's body that stalls waiting for ever.
/// The SDK sets it on every PutObject and UploadPart. Ceph RGW answers an early error (403, 404) to such a request
/// without reading its body, and then parses the body, which the client sends regardless, as the start of the next
/// request on the connection: after a PUT refused for a wrong key, the next PUT on that connection - from any client
/// sharing it - was answered <c>405</c> for <c>"xPUT /bucket/key"</c>. Without the header RGW reads and drops an unread
/// body. It also saves the wait for "100 Continue" before every body. (With the SDK's aws-chunked bodies the bug did
/// not show; S3lo now signs bodies with their hash and sends them as they are, see <see cref="PayloadHashS3Client"/>.)
/// <para>
/// <see cref="GetConfigUniqueString"/> is null, so the SDK keeps these clients per S3 client (per store) and disposes
/// them with it, rather than in its process-wide cache.
/// </para>
/// </summary>
internal sealed class S3HttpClientFactory(TimeSpan idleTimeout) : HttpClientFactory
{

    public override HttpClient CreateHttpClient(IClientConfig clientConfig)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            AllowAutoRedirect = clientConfig.AllowAutoRedirect,
            AutomaticDecompression = DecompressionMethods.None,
        };
        if (clientConfig.ConnectTimeout is { } connectTimeout) handler.ConnectTimeout = connectTimeout;
        if (clientConfig.MaxConnectionsPerServer is { } maxConnections) handler.MaxConnectionsPerServer = maxConnections;
        if (clientConfig.GetWebProxy() is { } proxy)
        {
            handler.Proxy = proxy;
            if (clientConfig.ProxyCredentials is { } credentials) proxy.Credentials = credentials;
        }
        var client = new HttpClient(new TracingHandler("S3", new IdleTimeoutHandler(idleTimeout, new NoExpectContinueHandler(handler))));
        if (clientConfig.Timeout is { } timeout) client.Timeout = timeout;
        return client;
    }

    public override string? GetConfigUniqueString(IClientConfig clientConfig) => null;

    private sealed class NoExpectContinueHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.ExpectContinue = false;
            return base.SendAsync(request, cancellationToken);
        }
    }
}
