using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using S3lo.Core.Oci;

namespace S3lo.Core.Docker;

/// <summary>What a Docker daemon reports about one image (<c>GET /images/{name}/json</c>).</summary>
/// <param name="Layers">The uncompressed layer digests (RootFS.Layers), which the image config lists as diff_ids.</param>
public sealed record DockerImageInfo(string Id, IReadOnlyList<string> RepoTags, Platform Platform, IReadOnlyList<string> Layers);

/// <summary>
/// A client for the Docker Engine API (and podman's Docker-compatible API) at a <c>DOCKER_HOST</c> address:
/// <c>unix:///path/to.sock</c> or <c>tcp://host:port</c>. TLS (<c>DOCKER_TLS_VERIFY</c>) is not supported.
/// </summary>
public sealed class DockerDaemon : IDisposable
{
    public const string DefaultHost = "unix:///var/run/docker.sock";

    // v1.41 (Docker 20.10) has every endpoint used here and is served by every later daemon and by podman's
    // compat API, so no version negotiation is needed.
    private const string ApiPrefix = "/v1.41";
    private const string UnixScheme = "unix://";
    private const string TcpScheme = "tcp://";
    private const int DockerPlainTcpPort = 2375;
    private const string LoadedImagePrefix = "Loaded image: ";
    private const string LoadedImageIdPrefix = "Loaded image ID: ";

    private readonly HttpClient _http;

    private DockerDaemon(string host, HttpClient http)
    {
        Host = host;
        _http = http;
    }

    /// <summary>The address the client talks to, as given (or the default socket).</summary>
    public string Host { get; }

    /// <summary>A client for <c>DOCKER_HOST</c>, or the default socket when it is not set.</summary>
    public static DockerDaemon FromEnvironment() => Create(Environment.GetEnvironmentVariable("DOCKER_HOST"));

    /// <summary>A client for <paramref name="host"/>; null or empty means <see cref="DefaultHost"/>. Nothing is contacted yet.</summary>
    public static DockerDaemon Create(string? host)
    {
        host = string.IsNullOrWhiteSpace(host) ? DefaultHost : host.Trim();
        // Image exports and loads run as long as the image is big; cancellation comes from the caller's token.
        var handler = new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(10) };
        Uri baseAddress;
        if (host.StartsWith(UnixScheme, StringComparison.Ordinal))
        {
            var socketPath = host[UnixScheme.Length..];
            if (!Path.IsPathFullyQualified(socketPath))
                throw InvalidHost(host, "a unix socket address needs an absolute path, such as unix:///var/run/docker.sock");
            var endpoint = new UnixDomainSocketEndPoint(socketPath);
            handler.ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
            // Every connection goes to the socket, so this host name is never resolved; it only fills the Host header.
            baseAddress = new Uri("http://docker");
        }
        else if (host.StartsWith(TcpScheme, StringComparison.Ordinal)
                 && Uri.TryCreate("http://" + host[TcpScheme.Length..], UriKind.Absolute, out var tcp)
                 && tcp.AbsolutePath == "/" && tcp.Query.Length == 0 && tcp.UserInfo.Length == 0)
        {
            var authority = host[TcpScheme.Length..].TrimEnd('/');
            var hasPort = authority.LastIndexOf(':') > authority.LastIndexOf(']');
            baseAddress = hasPort ? tcp : new UriBuilder(tcp) { Port = DockerPlainTcpPort }.Uri;
        }
        else
        {
            throw InvalidHost(host, "expected unix:///path/to.sock or tcp://host:port");
        }
        var http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        return new DockerDaemon(host, http);
    }

    /// <summary>Describes the image the daemon knows as <paramref name="imageName"/> (a name, name:tag, id or digest
    /// reference); <c>ImageNotFound</c> when it has none.</summary>
    public async Task<DockerImageInfo> InspectImageAsync(string imageName, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{ApiPrefix}/images/{EscapeName(imageName)}/json");
        using var response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        await EnsureImageFoundAsync(response, imageName, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var platform = new Platform(RequiredString(root, "Os"), RequiredString(root, "Architecture"), OptionalString(root, "Variant"));
            var tags = root.TryGetProperty("RepoTags", out var repoTags) && repoTags.ValueKind == JsonValueKind.Array
                ? repoTags.EnumerateArray().Select(t => t.GetString()).OfType<string>().ToList()
                : [];
            var layers = root.TryGetProperty("RootFS", out var rootFs) && rootFs.TryGetProperty("Layers", out var layerArray) && layerArray.ValueKind == JsonValueKind.Array
                ? layerArray.EnumerateArray().Select(l => l.GetString()).OfType<string>().ToList()
                : [];
            return new DockerImageInfo(RequiredString(root, "Id"), tags, platform, layers);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new S3loException(ErrorIds.DockerError, S3loErrorKind.InvalidData,
                $"The Docker daemon at {Host} described '{imageName}' in a form S3lo cannot read: {e.Message}", imageName, e);
        }
    }

    /// <summary>The manifest list the daemon keeps under <paramref name="imageName"/> when it holds several platforms for
    /// it as one (podman's <c>podman manifest</c>), or null when the name is a single image, unknown, or the daemon is Docker.</summary>
    /// <remarks>The existence check comes first because podman's manifest inspection falls back to asking a registry for
    /// a name it does not hold as a list; the check looks at local storage only. Docker answers both paths with 404.</remarks>
    internal async Task<Manifest?> FindManifestListAsync(string imageName, CancellationToken cancellationToken)
    {
        var path = $"{ApiPrefix}/libpod/manifests/{EscapeName(imageName)}";
        using (var exists = new HttpRequestMessage(HttpMethod.Get, $"{path}/exists"))
        using (var response = await SendAsync(exists, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false))
            if (response.StatusCode != HttpStatusCode.NoContent) return null;

        using var request = new HttpRequestMessage(HttpMethod.Get, $"{path}/json");
        using var listResponse = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        await EnsureImageFoundAsync(listResponse, imageName, cancellationToken).ConfigureAwait(false);
        var body = await listResponse.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var list = Manifest.Parse(body);
            return list.IsIndex ? list : null;
        }
        catch (S3loException e)
        {
            throw new S3loException(ErrorIds.DockerError, S3loErrorKind.InvalidData,
                $"The Docker daemon at {Host} described the manifest list '{imageName}' in a form S3lo cannot read: {e.Message}", imageName, e);
        }
    }

    /// <summary>Writes the daemon's docker-save archive of <paramref name="imageName"/> to <paramref name="destination"/>.</summary>
    internal async Task ExportImageAsync(string imageName, Stream destination, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{ApiPrefix}/images/{EscapeName(imageName)}/get");
        using var response = await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await EnsureImageFoundAsync(response, imageName, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await body.CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or HttpIOException)
        {
            throw new S3loException(ErrorIds.DockerError, S3loErrorKind.ReadError,
                $"The Docker daemon at {Host} broke off the export of '{imageName}': {e.Message}", imageName, e);
        }
    }

    /// <summary>Loads a docker-save archive (<c>POST /images/load</c>), as <c>docker load</c> does. Returns the names
    /// (or, for untagged images, the ids) the daemon reports as loaded; a refusal is <c>DockerLoadFailed</c>.</summary>
    public async Task<IReadOnlyList<string>> LoadAsync(Stream dockerArchiveTar, CancellationToken cancellationToken)
    {
        using var content = new StreamContent(dockerArchiveTar);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{ApiPrefix}/images/load?quiet=1") { Content = content };
        using var response = await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
            throw LoadFailed($"HTTP {(int)response.StatusCode}: {ErrorMessage(body)}");

        List<JsonElement> messages;
        try
        {
            messages = ParseMessages(body);
        }
        catch (JsonException e)
        {
            throw LoadFailed($"its reply is not a JSON message stream ({e.Message}): {Encoding.UTF8.GetString(body)}", e);
        }
        var loaded = new List<string>();
        foreach (var message in messages.Where(m => m.ValueKind == JsonValueKind.Object))
        {
            // Docker reports a failed load inside a 200 reply, as a message with error/errorDetail.
            if (message.TryGetProperty("errorDetail", out var detail) && detail.ValueKind == JsonValueKind.Object && OptionalString(detail, "message") is { } detailMessage)
                throw LoadFailed(detailMessage);
            if (OptionalString(message, "error") is { Length: > 0 } error)
                throw LoadFailed(error);
            foreach (var line in (OptionalString(message, "stream") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (line.StartsWith(LoadedImagePrefix, StringComparison.Ordinal)) loaded.AddRange(SplitLoadedNames(line[LoadedImagePrefix.Length..]));
                else if (line.StartsWith(LoadedImageIdPrefix, StringComparison.Ordinal)) loaded.Add(line[LoadedImageIdPrefix.Length..]);
            }
        }
        return loaded;
    }

    public void Dispose() => _http.Dispose();

    /// <summary>Splits the JSON values a Docker streaming endpoint writes one after another (no enclosing array).</summary>
    internal static List<JsonElement> ParseMessages(ReadOnlySpan<byte> body)
    {
        var messages = new List<JsonElement>();
        while (true)
        {
            var start = 0;
            while (start < body.Length && body[start] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') start++;
            body = body[start..];
            if (body.IsEmpty) return messages;
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            messages.Add(document.RootElement.Clone());
            body = body[(int)reader.BytesConsumed..];
        }
    }

    // Docker joins several tags of one image with ", " on a single "Loaded image:" line only in old versions; podman
    // and newer Docker write one line per name. Neither puts a comma inside a name.
    private static IEnumerable<string> SplitLoadedNames(string names)
        => names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        try
        {
            return await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new S3loException(ErrorIds.DockerUnreachable, S3loErrorKind.ConnectionError,
                $"Cannot reach the Docker daemon at {Host}: {e.Message} Is it running, and is DOCKER_HOST right?", Host, e);
        }
    }

    private async Task EnsureImageFoundAsync(HttpResponseMessage response, string imageName, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        var message = ErrorMessage(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        if (response.StatusCode == HttpStatusCode.NotFound)
            throw new S3loException(ErrorIds.ImageNotFound, S3loErrorKind.NotFound,
                $"The Docker daemon at {Host} has no image '{imageName}': {message}", imageName);
        throw new S3loException(ErrorIds.DockerError, S3loErrorKind.ReadError,
            $"The Docker daemon at {Host} failed on '{imageName}' (HTTP {(int)response.StatusCode}): {message}", imageName);
    }

    private S3loException LoadFailed(string reason, Exception? inner = null)
        => new(ErrorIds.DockerLoadFailed, S3loErrorKind.WriteError, $"The Docker daemon at {Host} did not load the image: {reason}", Host, inner);

    /// <summary>The daemon's error text: the <c>message</c> of its JSON error body, else the body itself.</summary>
    private static string ErrorMessage(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && OptionalString(document.RootElement, "message") is { } message) return message;
        }
        catch (JsonException)
        {
            // Not every proxy or daemon answers errors in JSON; the raw text is then the best description.
        }
        return Encoding.UTF8.GetString(body).Trim();
    }

    // The daemon matches names against the decoded path, so '/' stays a separator and everything else in a
    // segment is escaped; a name that could still change the request's meaning is refused.
    private static string EscapeName(string imageName)
    {
        if (string.IsNullOrWhiteSpace(imageName) || imageName.Any(char.IsWhiteSpace) || imageName.Split('/').Any(s => s.Length == 0 || s is "." or ".."))
            throw new S3loException(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
                $"'{imageName}' is not a Docker image name, id or reference.", imageName);
        return string.Join('/', imageName.Split('/').Select(Uri.EscapeDataString));
    }

    private static string RequiredString(JsonElement element, string name)
        => OptionalString(element, name) ?? throw new KeyNotFoundException($"'{name}' is missing");

    private static string? OptionalString(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;

    private static S3loException InvalidHost(string host, string reason)
        => new(ErrorIds.InvalidDockerHost, S3loErrorKind.InvalidArgument, $"'{host}' is not a Docker host address: {reason}.", host);
}
