using System.Collections.Concurrent;
using System.Net;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>
/// A reverse proxy on 127.0.0.1 in front of a test registry that misbehaves on purpose: it answers 429 to the first
/// blob requests, drops a blob's connection halfway once, or flips a byte of one blob. With <see cref="BearerCredentials"/>
/// set it stands for a registry with a token service: it challenges for a Bearer token, which it issues at /token
/// to those credentials only. It also counts what the registry accepted through it: blob uploads and manifest PUTs.
/// </summary>
public sealed class RegistryProxy : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false });
    private readonly string _target;
    private readonly Task _loop;
    private int _throttlesLeft;
    private int _dropsLeft;
    private int _uploadFailuresLeft;

    public RegistryProxy(string targetHost)
    {
        _target = $"http://{targetHost}";
        var port = TestPorts.Free();
        Host = $"127.0.0.1:{port}";
        _listener.Prefixes.Add($"http://{Host}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string Host { get; }
    public string? CorruptBlob { get; set; }
    /// <summary>user:password the token service accepts.</summary>
    public string? BearerCredentials { get; set; }
    public const string Token = "test-token";
    public int TokensIssued;
    public int BlobRequests;

    public int ThrottleBlobRequests { set => _throttlesLeft = value; }
    public int DropBlobConnections { set => _dropsLeft = value; }
    /// <summary>How many blob uploads (the PUT that completes one) to answer 503.</summary>
    public int FailBlobUploads { set => _uploadFailuresLeft = value; }
    public int FailedUploads;
    /// <summary>Blob upload PUTs that reached the proxy, whatever their answer.</summary>
    public int UploadPuts;
    /// <summary>Pages tag listings as the distribution spec describes (<c>n</c>, <c>last</c>, a <c>Link</c> to the next page),
    /// which the Distribution registry 2.8 does not do: it answers every tag at once.</summary>
    public bool PageTags { get; set; }
    public int TagPagesServed;
    /// <summary>Blob uploads (the PUT that completes one) the registry accepted.</summary>
    public int BlobUploads;
    /// <summary>The paths of the manifest PUTs the registry accepted, in order.</summary>
    public ConcurrentQueue<string> ManifestPuts { get; } = new();

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (!_listener.IsListening)
            {
                return;
            }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var path = context.Request.Url!.PathAndQuery;
        var isBlobGet = context.Request.HttpMethod == "GET" && path.Contains("/blobs/sha256:");
        try
        {
            if (BearerCredentials is not null && await ChallengeForTokenAsync(context, path)) return;
            if (isBlobGet)
            {
                Interlocked.Increment(ref BlobRequests);
                if (Interlocked.Decrement(ref _throttlesLeft) >= 0)
                {
                    context.Response.StatusCode = 429;
                    context.Response.AddHeader("Retry-After", "0");
                    context.Response.Close();
                    return;
                }
            }

            var isUploadPut = context.Request.HttpMethod == "PUT" && path.Contains("/blobs/uploads/");
            if (isUploadPut) Interlocked.Increment(ref UploadPuts);
            var requestBody = context.Request.HasEntityBody ? await ReadAllAsync(context.Request.InputStream) : null;
            if (isUploadPut && Interlocked.Decrement(ref _uploadFailuresLeft) >= 0)
            {
                Interlocked.Increment(ref FailedUploads);
                context.Response.StatusCode = 503;
                context.Response.Close();
                return;
            }

            using var request = new HttpRequestMessage(new HttpMethod(context.Request.HttpMethod), _target + path);
            if (requestBody is not null)
            {
                request.Content = new ByteArrayContent(requestBody);
                if (context.Request.ContentType is { } type) request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
            }
            foreach (var name in new[] { "Accept", "Authorization", "Range" })
            {
                if (context.Request.Headers.GetValues(name) is { } values) request.Headers.TryAddWithoutValidation(name, values);
            }
            if (PageTags && context.Request.HttpMethod == "GET" && path.Contains("/tags/list"))
            {
                await ServeTagPageAsync(context, path);
                return;
            }
            using var response = await _http.SendAsync(request);
            if (response.IsSuccessStatusCode && isUploadPut) Interlocked.Increment(ref BlobUploads);
            if (response.IsSuccessStatusCode && context.Request.HttpMethod == "PUT" && path.Contains("/manifests/")) ManifestPuts.Enqueue(path);
            var body = await response.Content.ReadAsByteArrayAsync();
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (name is "Content-Length" or "Transfer-Encoding" or "Connection") continue;
                // Uploads continue at the Location the registry names; keep them going through the proxy.
                foreach (var v in values) context.Response.AddHeader(name, name == "Location" ? v.Replace(_target, "http://" + Host) : v);
            }
            if (isBlobGet && CorruptBlob is { } digest && path.EndsWith(digest, StringComparison.Ordinal) && body.Length > 0)
                body[body.Length / 2] ^= 0xff;
            context.Response.ContentLength64 = body.Length;
            if (isBlobGet && body.Length > 1 && Interlocked.Decrement(ref _dropsLeft) >= 0)
            {
                await context.Response.OutputStream.WriteAsync(body.AsMemory(0, body.Length / 2));
                await context.Response.OutputStream.FlushAsync();
                context.Response.Abort();
                return;
            }
            if (context.Request.HttpMethod != "HEAD") await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
        catch (Exception)
        {
            context.Response.Abort();
        }
    }

    private async Task ServeTagPageAsync(HttpListenerContext context, string path)
    {
        var query = System.Web.HttpUtility.ParseQueryString(context.Request.Url!.Query);
        var listPath = context.Request.Url.AbsolutePath;
        using var response = await _http.GetAsync(_target + listPath);
        var all = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var tags = all["tags"]!.AsArray().Select(t => (string)t!).Order(StringComparer.Ordinal).ToList();
        var size = int.TryParse(query["n"], out var n) ? n : tags.Count;
        var page = tags.Where(t => query["last"] is not { } last || string.CompareOrdinal(t, last) > 0).ToList();
        var served = page.Take(size).ToList();
        Interlocked.Increment(ref TagPagesServed);
        if (page.Count > served.Count)
            context.Response.AddHeader("Link", $"<{listPath}?n={size}&last={Uri.EscapeDataString(served[^1])}>; rel=\"next\"");
        var body = System.Text.Encoding.UTF8.GetBytes(new System.Text.Json.Nodes.JsonObject
        {
            ["name"] = (string?)all["name"],
            ["tags"] = new System.Text.Json.Nodes.JsonArray(served.Select(t => (System.Text.Json.Nodes.JsonNode?)t).ToArray()),
        }.ToJsonString());
        context.Response.ContentType = "application/json";
        context.Response.ContentLength64 = body.Length;
        await context.Response.OutputStream.WriteAsync(body);
        context.Response.Close();
    }

    /// <summary>Answers token requests and requests without the token; true when the request was answered here.</summary>
    private async Task<bool> ChallengeForTokenAsync(HttpListenerContext context, string path)
    {
        if (path.StartsWith("/token?", StringComparison.Ordinal))
        {
            var basic = "Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(BearerCredentials!));
            if (context.Request.Headers["Authorization"] != basic || !path.Contains("scope=repository%3Aapp%3Apull"))
            {
                context.Response.StatusCode = 401;
                context.Response.Close();
                return true;
            }
            Interlocked.Increment(ref TokensIssued);
            var body = System.Text.Encoding.UTF8.GetBytes($$"""{"token":"{{Token}}"}""");
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
            return true;
        }
        if (context.Request.Headers["Authorization"] == "Bearer " + Token) return false;
        context.Response.StatusCode = 401;
        context.Response.AddHeader("WWW-Authenticate", $"Bearer realm=\"http://{Host}/token\",service=\"test\",scope=\"repository:app:pull\"");
        context.Response.Close();
        return true;
    }

    private static async Task<byte[]> ReadAllAsync(Stream input)
    {
        using var buffer = new MemoryStream();
        await input.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _http.Dispose();
    }
}
