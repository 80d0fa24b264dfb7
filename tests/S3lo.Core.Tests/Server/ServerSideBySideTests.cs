using System.Net;
using System.Text.Json.Nodes;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Server;

/// <summary>
/// The same requests sent to the server and to the Distribution registry (docker-registry 2.8) holding the same images
/// (copied there from the server by skopeo, digests preserved): status, Docker-Content-Digest, Content-Type,
/// Content-Length and body digest (for errors, the error code) must agree.
/// </summary>
public sealed class ServerSideBySideTests(SideBySideFixture both) : IClassFixture<SideBySideFixture>
{
    private const string Oci = MediaTypes.OciManifest + ", " + MediaTypes.OciIndex;
    private readonly HttpClient _http = both.Http;
    private readonly ServedImages _served = both.Served;
    private readonly RunningServer _server = both.Server;
    private readonly RegistryServer _registry = both.Registry;

    public static TheoryData<string, string, string?, string?> Requests()
    {
        var data = new TheoryData<string, string, string?, string?>();
        foreach (var method in (string[])["GET", "HEAD"])
        {
            data.Add(method, "/v2/app/manifests/v1", Oci, null);
            data.Add(method, "/v2/app/manifests/v1", MediaTypes.OciManifest, null);
            data.Add(method, "/v2/app/manifests/v1", null, null);
            data.Add(method, "/v2/app/manifests/v1", MediaTypes.DockerManifest, null);
            data.Add(method, "/v2/multi/manifests/v1", Oci, null);
            data.Add(method, "/v2/multi/manifests/v1", MediaTypes.OciManifest, null);
            data.Add(method, "/v2/multi/manifests/{child}", Oci, null);
            data.Add(method, "/v2/chunked/manifests/v1", Oci, null);
            data.Add(method, "/v2/app/manifests/nope", Oci, null);
            data.Add(method, "/v2/app/blobs/{config}", null, null);
            data.Add(method, "/v2/app/blobs/{layer}", null, null);
            data.Add(method, "/v2/chunked/blobs/{chunked}", null, null);
            data.Add(method, "/v2/app/blobs/{layer}", null, "bytes=0-9");
            data.Add(method, "/v2/app/blobs/{layer}", null, "bytes={last}-{last}");
            // Distribution's GET 416 declares the blob's Content-Length over a short text body, which HttpClient rightly rejects;
            // the conformance tests check the server's 416 on its own.
            if (method == "HEAD") data.Add(method, "/v2/app/blobs/{layer}", null, "bytes={size}-");
            data.Add(method, "/v2/app/blobs/sha256:" + new string('0', 64), null, null);
            data.Add(method, "/v2/app/blobs/sha256:abc", null, null);
        }
        // Distribution routes only GET for tags/list (HEAD is 405 there); the spec defines no HEAD for it.
        data.Add("GET", "/v2/nope/tags/list", null, null);
        data.Add("GET", "/v2/", null, null);
        return data;
    }

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task The_server_answers_as_the_Distribution_registry_does(string method, string path, string? accept, string? range)
    {
        var layer = _served.App.Layers[0];
        string Fill(string s) => s.Replace("{child}", _served.Multi.Manifests[0].Digest.ToString())
            .Replace("{config}", _served.App.Config!.Digest.ToString()).Replace("{layer}", layer.Digest.ToString())
            .Replace("{chunked}", _served.Chunked.Layers[0].Digest.ToString())
            .Replace("{last}", (layer.Size - 1).ToString()).Replace("{size}", layer.Size.ToString());
        var ours = await AnswerAsync(_server.Host, method, Fill(path), accept, range is null ? null : Fill(range));
        var theirs = await AnswerAsync(_registry.Host, method, Fill(path), accept, range is null ? null : Fill(range));
        Assert.Equal(theirs, ours);
    }

    [Fact]
    public async Task Tags_lists_hold_the_same_tags()
    {
        async Task<string[]> Tags(string host) => JsonNode.Parse(await _http.GetStringAsync($"http://{host}/v2/app/tags/list"))!["tags"]!.AsArray()
            .Select(t => t!.GetValue<string>()).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(await Tags(_registry.Host), await Tags(_server.Host));
    }

    private async Task<string> AnswerAsync(string host, string method, string path, string? accept, string? range)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), $"http://{host}{path}");
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        if (range is not null) request.Headers.TryAddWithoutValidation("Range", range);
        using var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        var type = response.Content.Headers.ContentType?.MediaType;
        string? Get(string name) => response.Headers.TryGetValues(name, out var v) ? v.Single()
            : response.Content.Headers.TryGetValues(name, out var c) ? c.Single() : null;
        // Error bodies differ in their wording and detail; their code is what clients act on.
        var content = type == "application/json" && (int)response.StatusCode >= 400 && body.Length > 0
            ? "code " + JsonNode.Parse(body)!["errors"]![0]!["code"]
            : (int)response.StatusCode >= 400 ? "" : "body " + Digest.Compute(body);
        var length = (int)response.StatusCode >= 400 ? "" : response.Content.Headers.ContentLength?.ToString();
        return $"{(int)response.StatusCode} digest={Get("Docker-Content-Digest")} type={((int)response.StatusCode == 416 ? "" : type)} length={length} range={Get("Content-Range")} {content}";
    }
}

/// <summary>Both registries, started once for all the comparisons: the server over a local store, and docker-registry
/// holding the same images.</summary>
public sealed class SideBySideFixture : IAsyncLifetime
{
    private readonly ImageFixture _images = new();
    private readonly TempDir _dir = new();
    private ImageStore _store = null!;

    public HttpClient Http { get; } = new();
    internal ServedImages Served { get; private set; } = null!;
    internal RunningServer Server { get; private set; } = null!;
    public RegistryServer Registry { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store"))));
        Served = await ServedImages.WriteAsync(_store, _images);
        Server = new RunningServer(_store);
        Registry = new RegistryServer();
        foreach (var image in (string[])["app:v1", "app:v2", "multi:v1", "chunked:v1", "other:v1"])
            Tool.Run("skopeo", "--insecure-policy", "copy", "--all", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false",
                $"docker://{Server.Host}/{image}", $"docker://{Registry.Host}/{image}");
    }

    public async Task DisposeAsync()
    {
        Registry.Dispose();
        await Server.DisposeAsync();
        await _store.DisposeAsync();
        Http.Dispose();
        _dir.Dispose();
        _images.Dispose();
    }
}
