using System.Collections.Concurrent;
using S3lo.Core.Diagnostics;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Azure;
using S3lo.Core.Storage.S3;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Diagnostics;

public sealed class RedactionTests
{
    [Fact]
    public void A_SAS_URL_keeps_its_parameter_names_and_loses_their_values()
        => Assert.Equal("https://acct.blob.core.windows.net/c/blobs/x?sv=REDACTED&sig=REDACTED&se=REDACTED&comp=block&blockid=QUE=",
            Redaction.Url(new Uri("https://acct.blob.core.windows.net/c/blobs/x?sv=2024-08-04&sig=abc%2Bdef&se=2030-01-01&comp=block&blockid=QUE=")));

    [Fact]
    public void A_presigned_S3_URL_loses_its_signature_credential_and_user_information()
        => Assert.Equal("https://s3.example/b/k?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&list-type=2",
            Redaction.Url(new Uri("https://user:pw@s3.example/b/k?X-Amz-Signature=0123abcd&X-Amz-Credential=AKIA%2F1&list-type=2")));

    [Fact]
    public void Text_loses_authorization_headers_bearer_tokens_and_keys()
    {
        var text = Redaction.Text("Authorization: AWS4-HMAC-SHA256 Credential=AKIAX/1, Signature=0123456789abcdef\nx-ms-version: 1\n" +
                                  "got Bearer eyJhbGciOi.abc.def and token=tok123; AccountKey=k3y==;EndpointSuffix=core");
        foreach (var secret in new[] { "AKIAX", "0123456789abcdef", "eyJhbGciOi", "tok123", "k3y==" }) Assert.DoesNotContain(secret, text);
        Assert.Contains("x-ms-version: 1", text);
        Assert.Contains("EndpointSuffix=core", text);
    }
}

/// <summary>Requests to real stores behind a <see cref="FaultProxy"/> answering 503 to about half of them: each shows in the
/// trace with its status, and a request sent again says which attempt it is and why.</summary>
public abstract class RequestTraceTests
{
    protected abstract string Service { get; }
    protected abstract string ServerUrl { get; }
    protected abstract string Secret { get; }
    protected abstract Task<IObjectStore> OpenAsync(string proxyUrl);

    [Fact]
    public async Task Each_request_and_each_retry_with_its_reason_is_traced_without_secrets()
    {
        using var proxy = new FaultProxy(ServerUrl, seed: 7, rate: 0.5, Fault.Unavailable);
        await using var store = await OpenAsync(proxy.Url);
        var sink = new CollectingSink();
        using (RequestTrace.Begin(sink))
        {
            for (var i = 0; i < 6; i++)
                await store.PutBytesAsync($"traced/object{i}", new byte[1000 + i], ObjectClass.Metadata, default);
        }
        var injected = proxy.Injected(Fault.Unavailable);
        await store.PutBytesAsync("untraced", new byte[10], ObjectClass.Metadata, default);

        var requests = sink.Requests.ToList();
        Assert.True(injected > 0, "the proxy injected 503s");
        Assert.All(requests, r => Assert.Equal(Service, r.Service));
        Assert.DoesNotContain(requests, r => r.Target.Contains("untraced", StringComparison.Ordinal));
        var puts = requests.Where(r => r.Method == "PUT" && r.Outcome.StartsWith("20", StringComparison.Ordinal)).ToList();
        for (var i = 0; i < 6; i++)
            Assert.Single(puts, r => r.Target.Contains($"traced/object{i}", StringComparison.Ordinal) && r.BytesSent == 1000 + i);
        var refused = requests.Where(r => r.Outcome.StartsWith("503", StringComparison.Ordinal)).ToList();
        Assert.Equal(injected, refused.Count);
        var retried = requests.Where(r => r.RetryReason is not null).ToList();
        Assert.NotEmpty(retried);
        Assert.All(retried, r => Assert.Matches(@"^attempt \d+, retried after 503", r.RetryReason!));
        Assert.All(requests, r => Assert.DoesNotContain(Secret, r.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_sdk_detail_reaches_a_debug_sink_and_stops_when_the_last_debug_operation_ends()
    {
        // The SDKs' logging is process-wide: the S3 and Azure cases must not overlap.
        await DebugTests.WaitAsync();
        try
        {
            await SdkDetailAsync();
        }
        finally
        {
            DebugTests.Release();
        }
    }

    private static readonly SemaphoreSlim DebugTests = new(1, 1);

    private async Task SdkDetailAsync()
    {
        await using var store = await OpenAsync(ServerUrl);
        for (var round = 0; round < 2; round++)
        {
            var sink = new CollectingSink(debug: true);
            using (RequestTrace.Begin(sink))
            {
                Assert.True(SdkDebugListeners.IsListening);
                await store.PutBytesAsync($"debugged/object{round}", new byte[100], ObjectClass.Metadata, default);
            }
            Assert.NotEmpty(sink.Messages);
            Assert.All(sink.Messages, m => Assert.DoesNotContain(Secret, m, StringComparison.Ordinal));
            // Switched off with the operation: the SDKs no longer format messages that nobody receives.
            Assert.False(SdkDebugListeners.IsListening);
            Assert.Equal(Amazon.LoggingOptions.None, Amazon.AWSConfigs.LoggingConfig.LogTo);
        }
    }

    private sealed class CollectingSink(bool debug = false) : IRequestTraceSink
    {
        public ConcurrentQueue<RequestRecord> Requests { get; } = new();
        public ConcurrentQueue<string> Messages { get; } = new();
        public bool DebugEnabled => debug;
        public void Request(RequestRecord request) => Requests.Enqueue(request);
        public void Debug(string source, string message) => Messages.Enqueue(message);
    }
}

[Collection(RgwCollection.Name)]
public sealed class S3RequestTraceTests(RgwServer server) : RequestTraceTests
{
    protected override string Service => "S3";
    protected override string ServerUrl => server.EndpointUrl;
    protected override string Secret => RgwServer.SecretKey;

    protected override async Task<IObjectStore> OpenAsync(string proxyUrl)
        => await S3ObjectStore.OpenAsync(S3StoreProvider.Location(server.NewBucket(), server.Connection() with { EndpointUrl = proxyUrl }), default);
}

[Collection(AzuriteCollection.Name)]
public sealed class AzureRequestTraceTests(AzuriteServer server) : RequestTraceTests
{
    protected override string Service => "Azure";
    protected override string ServerUrl => server.EndpointUrl;
    protected override string Secret => AzuriteServer.AccountKey;

    protected override async Task<IObjectStore> OpenAsync(string proxyUrl)
    {
        var connection = server.Connection() with { EndpointUrl = proxyUrl };
        return await AzureObjectStore.OpenAsync(AzureStoreProvider.Location(server.NewContainer(), connection), connection, default);
    }
}
