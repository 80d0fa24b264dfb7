using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using S3lo.Core.Oci;
using S3lo.Core.Server;
using S3lo.Core.Storage;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Server;

/// <summary>
/// The pull category of the distribution-spec conformance suite, in its spirit: every status code, header and error
/// body the server gives, asserted with a plain HttpClient against a local store.
/// </summary>
public sealed class ServerConformanceTests(ImageFixture images) : IClassFixture<ImageFixture>, IAsyncLifetime
{
    private const string OciAccept = MediaTypes.OciManifest + ", " + MediaTypes.OciIndex;
    private readonly TempDir _dir = new();
    private readonly HttpClient _http = new();
    private ImageStore _store = null!;
    private ServedImages _served = null!;
    private RunningServer _server = null!;
    private Manifest _signature = null!;

    public async Task InitializeAsync()
    {
        _store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store"))));
        _served = await ServedImages.WriteAsync(_store, images);
        // An artifact whose subject is app:v1, tagged as the referrers tag schema would.
        var config = new Descriptor("application/vnd.oci.empty.v1+json", Digest.Compute("{}"u8), 2);
        await _store.PutBlobAsync(config, new MemoryStream("{}"u8.ToArray()), null, default);
        var signature = Encoding.UTF8.GetBytes($$$"""
            {"schemaVersion":2,"mediaType":"{{{MediaTypes.OciManifest}}}","artifactType":"application/vnd.example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{{{config.Digest}}}","size":2},"layers":[],"subject":{"mediaType":"{{{MediaTypes.OciManifest}}}","digest":"{{{_served.App.Digest}}}","size":{{{_served.App.Bytes.Length}}}},"annotations":{"org.example":"yes"}}
            """.Trim());
        _signature = Manifest.Parse(signature);
        await _store.PublishTagAsync("app", "sha256-" + _served.App.Digest.Hex, _signature, force: false, default);
        _server = new RunningServer(_store);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _store.DisposeAsync();
        _http.Dispose();
        _dir.Dispose();
    }

    private string Url(string path) => $"http://{_server.Host}{path}";

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? accept = OciAccept, string? range = null)
    {
        var request = new HttpRequestMessage(method, Url(path));
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        if (range is not null) request.Headers.TryAddWithoutValidation("Range", range);
        return await _http.SendAsync(request);
    }

    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        if (response.RequestMessage!.Method == HttpMethod.Head) return;
        Assert.Equal(code, JsonNode.Parse(body)!["errors"]![0]!["code"]!.GetValue<string>());
        Assert.DoesNotContain("blobs/", body);
        Assert.DoesNotContain("manifests/", body);
        Assert.DoesNotContain(" at ", body);
    }

    private static string Header(HttpResponseMessage r, string name)
        => r.Headers.TryGetValues(name, out var v) ? string.Join(",", v) : r.Content.Headers.TryGetValues(name, out var c) ? string.Join(",", c) : "";

    [Fact]
    public async Task The_base_endpoint_answers_200_with_the_API_version()
    {
        var response = await SendAsync(HttpMethod.Get, "/v2/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("registry/2.0", Header(response, "Docker-Distribution-API-Version"));
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    public async Task A_manifest_by_tag_is_the_stored_bytes_with_type_length_and_digest(string method)
    {
        var response = await SendAsync(new HttpMethod(method), "/v2/app/manifests/v1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(MediaTypes.OciManifest, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(_served.App.Bytes.Length, response.Content.Headers.ContentLength);
        Assert.Equal(_served.App.Digest.ToString(), Header(response, "Docker-Content-Digest"));
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(method == "GET" ? _served.App.Bytes : [], body);
    }

    [Fact]
    public async Task A_manifest_by_digest_may_name_the_child_of_an_index()
    {
        var child = _served.Multi.Manifests[1];
        var response = await SendAsync(HttpMethod.Get, $"/v2/multi/manifests/{child.Digest}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(child.Digest, Digest.Compute(await response.Content.ReadAsByteArrayAsync()));
        Assert.Equal(child.Digest.ToString(), Header(response, "Docker-Content-Digest"));
    }

    [Fact]
    public async Task Accept_negotiation_serves_OCI_types_only_to_clients_that_accept_them()
    {
        Assert.Equal(MediaTypes.OciIndex, (await SendAsync(HttpMethod.Get, "/v2/multi/manifests/v1")).Content.Headers.ContentType?.MediaType);
        await AssertErrorAsync(await SendAsync(HttpMethod.Get, "/v2/multi/manifests/v1", MediaTypes.OciManifest), HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        await AssertErrorAsync(await SendAsync(HttpMethod.Get, "/v2/app/manifests/v1", accept: null), HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task Unknown_and_invalid_references_get_the_spec_errors()
    {
        await AssertErrorAsync(await SendAsync(HttpMethod.Get, "/v2/app/manifests/nope"), HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        await AssertErrorAsync(await SendAsync(HttpMethod.Head, "/v2/app/manifests/sha256:" + new string('0', 64)), HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        await AssertErrorAsync(await SendAsync(HttpMethod.Get, "/v2/nope/tags/list"), HttpStatusCode.NotFound, "NAME_UNKNOWN");
        await AssertErrorAsync(await SendAsync(HttpMethod.Get, "/v2/App/manifests/v1"), HttpStatusCode.BadRequest, "NAME_INVALID");
        await AssertErrorAsync(await SendAsync(HttpMethod.Get, "/v2/app/manifests/-v1"), HttpStatusCode.BadRequest, "TAG_INVALID");
        await AssertErrorAsync(await SendAsync(HttpMethod.Get, "/v2/app/manifests/sha256:abc"), HttpStatusCode.BadRequest, "DIGEST_INVALID");
        await AssertErrorAsync(await SendAsync(HttpMethod.Get, "/v2/app/blobs/sha256:abc"), HttpStatusCode.BadRequest, "DIGEST_INVALID");
        await AssertErrorAsync(await SendAsync(HttpMethod.Get, "/v2/app/blobs/sha256:" + new string('0', 64)), HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Theory]
    [InlineData("POST", "/v2/app/blobs/uploads/")]
    [InlineData("PUT", "/v2/app/manifests/v9")]
    [InlineData("PATCH", "/v2/app/blobs/uploads/x")]
    [InlineData("DELETE", "/v2/app/manifests/v1")]
    public async Task Every_write_method_is_405_UNSUPPORTED(string method, string path)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), Url(path)) { Content = new ByteArrayContent("{}"u8.ToArray()) };
        await AssertErrorAsync(await _http.SendAsync(request), HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
        Assert.True(await _store.BlobExistsAsync(_served.App.Config!.Digest, default));
    }

    [Fact]
    public async Task A_blob_HEAD_has_its_length_and_GET_its_bytes()
    {
        var layer = _served.App.Layers[0];
        var head = await SendAsync(HttpMethod.Head, $"/v2/app/blobs/{layer.Digest}");
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(layer.Size, head.Content.Headers.ContentLength);
        Assert.Equal(layer.Digest.ToString(), Header(head, "Docker-Content-Digest"));
        var get = await SendAsync(HttpMethod.Get, $"/v2/app/blobs/{layer.Digest}");
        Assert.Equal(layer.Digest, Digest.Compute(await get.Content.ReadAsByteArrayAsync()));
    }

    [Fact]
    public async Task A_chunked_layer_is_served_whole_and_in_ranges_across_chunks()
    {
        var layer = _served.Chunked.Layers[0];
        Assert.Equal(_served.ChunkedLayer, await (await SendAsync(HttpMethod.Get, $"/v2/chunked/blobs/{layer.Digest}")).Content.ReadAsByteArrayAsync());
        var start = _served.ChunkedLayer.Length / 2 - 10;
        var part = await SendAsync(HttpMethod.Get, $"/v2/chunked/blobs/{layer.Digest}", range: $"bytes={start}-{start + 99}");
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal(_served.ChunkedLayer[start..(start + 100)], await part.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Ranges_give_206_up_to_the_last_byte_and_416_past_the_end()
    {
        var layer = _served.App.Layers[0];
        var bytes = ImageFixture.BlobBytes(images.Layout, layer.Digest.ToString());
        var first = await SendAsync(HttpMethod.Get, $"/v2/app/blobs/{layer.Digest}", range: "bytes=0-9");
        Assert.Equal(HttpStatusCode.PartialContent, first.StatusCode);
        Assert.Equal($"bytes 0-9/{layer.Size}", Header(first, "Content-Range"));
        Assert.Equal(bytes[..10], await first.Content.ReadAsByteArrayAsync());

        var last = await SendAsync(HttpMethod.Get, $"/v2/app/blobs/{layer.Digest}", range: $"bytes={layer.Size - 1}-");
        Assert.Equal(HttpStatusCode.PartialContent, last.StatusCode);
        Assert.Equal($"bytes {layer.Size - 1}-{layer.Size - 1}/{layer.Size}", Header(last, "Content-Range"));
        Assert.Equal(bytes[^1..], await last.Content.ReadAsByteArrayAsync());

        var suffix = await SendAsync(HttpMethod.Get, $"/v2/app/blobs/{layer.Digest}", range: "bytes=-5");
        Assert.Equal(bytes[^5..], await suffix.Content.ReadAsByteArrayAsync());

        var past = await SendAsync(HttpMethod.Get, $"/v2/app/blobs/{layer.Digest}", range: $"bytes={layer.Size}-{layer.Size + 10}");
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, past.StatusCode);
        Assert.Equal($"bytes */{layer.Size}", Header(past, "Content-Range"));
    }

    [Fact]
    public async Task A_blob_is_served_only_under_a_repository_whose_tags_reference_it()
    {
        var otherLayer = _served.Other.Layers[0].Digest;
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Head, $"/v2/other/blobs/{otherLayer}")).StatusCode);
        await AssertErrorAsync(await SendAsync(HttpMethod.Get, $"/v2/app/blobs/{otherLayer}"), HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        await AssertErrorAsync(await SendAsync(HttpMethod.Head, $"/v2/app/blobs/{otherLayer}"), HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        await AssertErrorAsync(await SendAsync(HttpMethod.Get, $"/v2/nope/blobs/{otherLayer}"), HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Tags_list_pages_with_n_and_last_and_a_Link_header()
    {
        var all = JsonNode.Parse(await (await SendAsync(HttpMethod.Get, "/v2/app/tags/list")).Content.ReadAsStringAsync())!;
        Assert.Equal("app", all["name"]!.GetValue<string>());
        string[] expected = ["sha256-" + _served.App.Digest.Hex, "v1", "v2"];
        Assert.Equal(expected, all["tags"]!.AsArray().Select(t => t!.GetValue<string>()));

        var first = await SendAsync(HttpMethod.Get, "/v2/app/tags/list?n=2");
        Assert.Equal(expected[..2], JsonNode.Parse(await first.Content.ReadAsStringAsync())!["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal($"</v2/app/tags/list?n=2&last=v1>; rel=\"next\"", Header(first, "Link"));
        var second = await SendAsync(HttpMethod.Get, "/v2/app/tags/list?n=2&last=v1");
        Assert.Equal(["v2"], JsonNode.Parse(await second.Content.ReadAsStringAsync())!["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal("", Header(second, "Link"));
    }

    [Fact]
    public async Task Referrers_list_the_manifests_whose_subject_is_the_digest_and_an_empty_index_otherwise()
    {
        var found = await SendAsync(HttpMethod.Get, $"/v2/app/referrers/{_served.App.Digest}");
        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        Assert.Equal(MediaTypes.OciIndex, found.Content.Headers.ContentType?.MediaType);
        var entry = JsonNode.Parse(await found.Content.ReadAsStringAsync())!["manifests"]!.AsArray().Single()!;
        Assert.Equal(_signature.Digest.ToString(), entry["digest"]!.GetValue<string>());
        Assert.Equal("application/vnd.example.sig", entry["artifactType"]!.GetValue<string>());
        Assert.Equal("yes", entry["annotations"]!["org.example"]!.GetValue<string>());

        var none = await SendAsync(HttpMethod.Get, $"/v2/app/referrers/{_served.App.Layers[0].Digest}");
        Assert.Equal(HttpStatusCode.OK, none.StatusCode);
        Assert.Equal(MediaTypes.OciIndex, none.Content.Headers.ContentType?.MediaType);
        var index = JsonNode.Parse(await none.Content.ReadAsStringAsync())!;
        Assert.Equal(2, index["schemaVersion"]!.GetValue<int>());
        Assert.Empty(index["manifests"]!.AsArray());
    }

    [Fact]
    public async Task Keep_alive_serves_several_requests_on_one_connection()
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 1 };
        using var client = new HttpClient(handler);
        for (var i = 0; i < 5; i++)
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(Url("/v2/"))).StatusCode);
        Assert.Equal(5, _server.Log.Count(l => l.Contains("GET /v2/ 200")));
        Assert.Single(_server.Log.Select(l => l.Split(' ')[0]).Distinct());
    }
}

/// <summary>Who may connect: loopback by default, another address only with credentials or -AllowAnonymous; Basic
/// authentication; HTTPS with a given certificate.</summary>
public sealed class ServerAccessTests(ImageFixture images) : IClassFixture<ImageFixture>, IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private ImageStore _store = null!;
    private ServedImages _served = null!;

    public async Task InitializeAsync()
    {
        _store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store"))));
        _served = await ServedImages.WriteAsync(_store, images);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public void A_non_loopback_address_without_authentication_is_refused()
    {
        var e = Assert.Throws<S3loException>(() => new StoreRegistryServer(_store, new RegistryServerOptions { ListenAddress = IPAddress.Any, Port = 0 }));
        Assert.Equal(ErrorIds.AnonymousListenRefused, e.ErrorId);
        _ = new StoreRegistryServer(_store, new RegistryServerOptions { ListenAddress = IPAddress.Any, Port = 0, AllowAnonymous = true });
        _ = new StoreRegistryServer(_store, new RegistryServerOptions { ListenAddress = IPAddress.Any, Port = 0, Credentials = [new NetworkCredential("u", "p")] });
    }

    [Fact]
    public async Task Missing_or_wrong_credentials_get_401_with_a_Basic_challenge_and_right_ones_pull()
    {
        await using var server = new RunningServer(_store, new RegistryServerOptions { Credentials = [new NetworkCredential("alice", "s3cret"), new NetworkCredential("bob", "other")] });
        using var http = new HttpClient();
        foreach (var auth in (string?[])[null, "alice:wrong", "mallory:s3cret", "alice:other"])
        {
            var request = new HttpRequestMessage(HttpMethod.Get, $"http://{server.Host}/v2/app/manifests/v1");
            if (auth is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(auth)));
            var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Basic realm=\"S3lo\"", response.Headers.WwwAuthenticate.ToString());
            Assert.Equal("UNAUTHORIZED", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["errors"]![0]!["code"]!.GetValue<string>());
        }
        Assert.Throws<ToolFailedException>(() => Tool.Run("skopeo", "inspect", "--tls-verify=false", "--raw", $"docker://{server.Host}/app:v1"));
        Assert.Equal(_served.App.Json, Tool.Run("skopeo", "inspect", "--tls-verify=false", "--creds", "bob:other", "--raw", $"docker://{server.Host}/app:v1"));
    }

    [Fact]
    public async Task With_a_certificate_the_server_speaks_TLS_1_2_or_later_and_skopeo_pulls_through_it()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var generated = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(_dir.File("cert.pem"), generated.ExportCertificatePem());
        File.WriteAllText(_dir.File("key.pem"), key.ExportPkcs8PrivateKeyPem());
        using var certificate = ServerCertificates.FromPemFiles(_dir.File("cert.pem"), _dir.File("key.pem"));

        await using var server = new RunningServer(_store, new RegistryServerOptions { Certificate = certificate });
        Assert.StartsWith("https://", server.Endpoint.Url);
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert!.Thumbprint == generated.Thumbprint };
        using var http = new HttpClient(handler);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"https://{server.Host}/v2/")).StatusCode);
        var layout = _dir.File("pulled");
        Tool.Run("skopeo", "--insecure-policy", "copy", "--src-tls-verify=false", $"docker://{server.Host}/app:v1", "oci:" + layout + ":v1");
        Assert.Equal(_served.App.Digest.ToString(), ImageFixture.ManifestDigest(layout, "v1"));

        using var plain = new HttpClient();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync($"http://{server.Host}/v2/"));
    }
}
