using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using S3lo.Core.Diagnostics;
using S3lo.Core.IO;
using S3lo.Core.Oci;

namespace S3lo.Core.Registry;

public sealed record RegistryClientOptions
{
    /// <summary>Explicit credentials; when null, those <c>docker login</c> stored are used (see <see cref="UseDockerConfig"/>).</summary>
    public RegistryCredentials? Credentials { get; init; }
    public bool UseDockerConfig { get; init; } = true;
    /// <summary>The Docker config file to read credentials from; the default is <c>$DOCKER_CONFIG/config.json</c> or <c>~/.docker/config.json</c>.</summary>
    public string? DockerConfigPath { get; init; }
    /// <summary>Speak plain HTTP to a registry that is not on the loopback address (loopback registries always get HTTP).</summary>
    public bool Insecure { get; init; }
    /// <summary>Requests per operation, the first included, for throttling, gateway errors and dropped connections: every
    /// retry of the operation (a resend, a resumed blob read, a restarted upload) draws on the same count.</summary>
    public int MaxAttempts { get; init; } = 5;
    /// <summary>The first retry's delay; each further retry doubles it, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long a request may go without moving (no body byte sent, no answer, no answer byte received) before it
    /// counts as a dropped connection and is retried or resumed. A transfer that keeps moving is never cut off.</summary>
    public TimeSpan IdleTimeout { get; init; } = IdleTimeoutHandler.DefaultIdleTimeout;
}

/// <summary>
/// A client of the OCI Distribution API of one registry: manifests and blobs by repository, with the registry's
/// Basic or Bearer-token authentication, and retries of throttled, failed-gateway and dropped requests. Every
/// manifest is checked against the digest it was asked by (or the one the registry states) and every blob stream
/// against its descriptor, so nothing unverified leaves this class.
/// </summary>
public sealed partial class RegistryClient : IDisposable
{
    private static readonly string[] ManifestAccept = [MediaTypes.OciIndex, MediaTypes.OciManifest, MediaTypes.DockerManifestList, MediaTypes.DockerManifest];

    private readonly HttpClient _http;
    private readonly RegistryClientOptions _options;
    private readonly RegistryCredentials? _credentials;
    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private volatile bool _basicRequested;

    /// <param name="registry">The registry as references name it: <c>docker.io</c>, <c>ghcr.io</c>, <c>127.0.0.1:5000</c>.</param>
    public RegistryClient(string registry, RegistryClientOptions? options = null)
    {
        Registry = registry;
        _options = options ?? new RegistryClientOptions();
        var host = RegistryReference.ApiHostOf(registry);
        var plain = _options.Insecure || IsLoopback(host);
        BaseUri = new Uri($"{(plain ? "http" : "https")}://{host}/v2/");
        _credentials = _options.Credentials
                       ?? (_options.UseDockerConfig ? RegistryCredentials.FromDockerConfig(registry, _options.DockerConfigPath) : null);
        // Redirects are followed (blob storage often lives behind one); HttpClient drops the Authorization header on them.
        _http = new HttpClient(new TracingHandler("Registry", new IdleTimeoutHandler(_options.IdleTimeout,
            new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(30), PooledConnectionLifetime = TimeSpan.FromMinutes(5) })))
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public string Registry { get; }
    public Uri BaseUri { get; }

    public static RegistryClient For(RegistryReference reference, RegistryClientOptions? options = null) => new(reference.Registry, options);

    /// <summary>A manifest or index by tag or digest, with its exact bytes, checked against the digest it was asked by,
    /// or else the one the registry states in Docker-Content-Digest.</summary>
    public async Task<Manifest> GetManifestAsync(string repository, string tagOrDigest, CancellationToken cancellationToken)
    {
        var what = $"manifest {Registry}/{repository}:{tagOrDigest}";
        var budget = NewBudget();
        while (true)
        {
            using var response = await SendAsync(() =>
            {
                var request = new HttpRequestMessage(HttpMethod.Get, ApiUri(repository, "manifests", tagOrDigest));
                foreach (var type in ManifestAccept) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
                return request;
            }, PullScope(repository), what, cancellationToken, budget: budget).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
                throw new S3loException(ErrorIds.ImageNotFound, S3loErrorKind.NotFound, $"The registry has no {what}.", $"{Registry}/{repository}:{tagOrDigest}");
            await EnsureSuccessAsync(response, what, S3loErrorKind.ReadError, cancellationToken).ConfigureAwait(false);

            byte[] bytes;
            try
            {
                bytes = await ReadLimitedAsync(response.Content, Manifest.MaxBytes, what, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsConnectionFailure(e, cancellationToken))
            {
                if (!budget.CanRetry) throw Interrupted(what, budget, e);
                await budget.DelayAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            var actual = Digest.Compute(bytes);
            var expected = Digest.TryParse(tagOrDigest, out var asked) ? asked
                : response.Headers.TryGetValues("Docker-Content-Digest", out var stated) && Digest.TryParse(stated.FirstOrDefault(), out var s) ? s
                : (Digest?)null;
            if (expected is { } e2 && e2 != actual)
                throw new S3loException(ErrorIds.DigestMismatch, S3loErrorKind.InvalidData,
                    $"The {what} does not match its digest: expected {e2}, got {actual}.", e2.ToString());
            return Manifest.Parse(bytes, response.Content.Headers.ContentType?.MediaType);
        }
    }

    /// <summary>Opens a blob. The stream throws <c>DigestMismatch</c> or <c>SizeMismatch</c> at its end if the bytes are not
    /// the descriptor's; a connection dropped while reading is re-requested (from the offset reached when the registry
    /// serves ranges) up to the attempt limit.</summary>
    public async Task<Stream> OpenBlobAsync(string repository, Descriptor descriptor, CancellationToken cancellationToken)
    {
        var what = $"blob {descriptor.Digest} of {Registry}/{repository}";
        var budget = NewBudget();
        var first = await OpenBlobFromAsync(repository, descriptor, 0, what, budget, cancellationToken).ConfigureAwait(false);
        var resuming = new ResumingReadStream(first, descriptor.Size,
            (offset, ct) => OpenBlobFromAsync(repository, descriptor, offset, what, budget, ct),
            (e, ct) => IsConnectionFailure(e, ct) || e is S3loException { ErrorId: ErrorIds.RegistryUnreachable }, _ => null, budget, what,
            descriptor.Digest.ToString());
        return new VerifyingReadStream(resuming, descriptor.Digest, descriptor.Size, what);
    }

    public async Task<bool> BlobExistsAsync(string repository, Digest digest, CancellationToken cancellationToken)
    {
        var what = $"blob {digest} of {Registry}/{repository}";
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Head, ApiUri(repository, "blobs", digest.ToString())),
            PullScope(repository), what, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        await EnsureSuccessAsync(response, what, S3loErrorKind.ReadError, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Whether the repository holds the manifest <paramref name="digest"/> (asked with HEAD, which a registry answers
    /// for manifests from the manifests endpoint only).</summary>
    public async Task<bool> ManifestExistsAsync(string repository, Digest digest, CancellationToken cancellationToken)
    {
        var what = $"manifest {Registry}/{repository}@{digest}";
        using var response = await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Head, ApiUri(repository, "manifests", digest.ToString()));
            foreach (var type in ManifestAccept) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
            return request;
        }, PullScope(repository), what, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        await EnsureSuccessAsync(response, what, S3loErrorKind.ReadError, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Uploads a blob in one request (POST for an upload session, then PUT with the digest of the content
    /// <paramref name="open"/> gives). A PUT that fails transiently (429, 5xx, a dropped connection) starts over with a new
    /// session and the content opened again, within the operation's attempts; any other answer is final.
    /// <paramref name="progress"/> hears the bytes sent, and their negation when an attempt is given up.
    /// </summary>
    public async Task UploadBlobAsync(string repository, Descriptor descriptor, Func<CancellationToken, Task<Stream>> open, Action<long> progress,
        CancellationToken cancellationToken)
    {
        var what = $"blob {descriptor.Digest} to {Registry}/{repository}";
        var scope = PushScope(repository);
        var budget = NewBudget();
        while (true)
        {
            Uri location;
            using (var started = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, ApiUri(repository, "blobs", "uploads/")),
                       scope, what, cancellationToken, budget: budget).ConfigureAwait(false))
            {
                await EnsureSuccessAsync(started, what, S3loErrorKind.WriteError, cancellationToken).ConfigureAwait(false);
                location = started.Headers.Location
                           ?? throw new S3loException(ErrorIds.RegistryError, S3loErrorKind.WriteError,
                               $"The registry started an upload of {what} without saying where to send it (no Location header).", Registry);
            }
            if (!location.IsAbsoluteUri) location = new Uri(BaseUri, location);
            var target = new Uri(location + (location.Query.Length > 0 ? "&" : "?") + "digest=" + System.Uri.EscapeDataString(descriptor.Digest.ToString()));

            long sent = 0;
            HttpResponseMessage response;
            await using (var content = await open(cancellationToken).ConfigureAwait(false))
            {
                var counted = new CountingReadStream(content, n =>
                {
                    sent += n;
                    progress(n);
                });
                try
                {
                    response = await SendAsync(() =>
                    {
                        var body = new StreamContent(counted);
                        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                        body.Headers.ContentLength = descriptor.Size;
                        return new HttpRequestMessage(HttpMethod.Put, target) { Content = body };
                    }, scope, what, cancellationToken, replayable: false, budget: budget).ConfigureAwait(false);
                }
                catch (S3loException e) when (e.ErrorId == ErrorIds.RegistryUnreachable && budget.CanRetry)
                {
                    progress(-sent);
                    await budget.DelayAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }
            }
            using (response)
            {
                if (IsTransient(response.StatusCode) && budget.CanRetry)
                {
                    progress(-sent);
                    await budget.DelayAsync(cancellationToken, RetryAfter(response)).ConfigureAwait(false);
                    continue;
                }
                await EnsureSuccessAsync(response, what, S3loErrorKind.WriteError, cancellationToken).ConfigureAwait(false);
                return;
            }
        }
    }

    /// <summary>Stores a manifest's exact bytes under a tag or its digest.</summary>
    public async Task PutManifestAsync(string repository, string tagOrDigest, Manifest manifest, CancellationToken cancellationToken)
    {
        var what = $"manifest {Registry}/{repository}:{tagOrDigest}";
        using var response = await SendAsync(() =>
        {
            var body = new ByteArrayContent(manifest.Bytes);
            body.Headers.ContentType = new MediaTypeHeaderValue(manifest.MediaType);
            return new HttpRequestMessage(HttpMethod.Put, ApiUri(repository, "manifests", tagOrDigest)) { Content = body };
        }, PushScope(repository), what, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, what, S3loErrorKind.WriteError, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The digest a tag points at (HEAD, Docker-Content-Digest; the manifest is read and hashed when the registry
    /// does not say), or null when the repository has no such tag.</summary>
    public async Task<Digest?> GetManifestDigestAsync(string repository, string tag, CancellationToken cancellationToken)
    {
        var what = $"manifest {Registry}/{repository}:{tag}";
        using (var response = await SendAsync(() =>
               {
                   var request = new HttpRequestMessage(HttpMethod.Head, ApiUri(repository, "manifests", tag));
                   foreach (var type in ManifestAccept) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
                   return request;
               }, PullScope(repository), what, cancellationToken).ConfigureAwait(false))
        {
            if (response.StatusCode == HttpStatusCode.NotFound) return null;
            await EnsureSuccessAsync(response, what, S3loErrorKind.ReadError, cancellationToken).ConfigureAwait(false);
            if (response.Headers.TryGetValues("Docker-Content-Digest", out var stated) && Digest.TryParse(stated.FirstOrDefault(), out var digest))
                return digest;
        }
        return (await GetManifestAsync(repository, tag, cancellationToken).ConfigureAwait(false)).Digest;
    }

    /// <summary>Every tag of a repository, page by page (<c>n</c>, and the <c>Link</c> header's next page); none when the
    /// repository does not exist.</summary>
    public async IAsyncEnumerable<string> ListTagsAsync(string repository, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken,
        int pageSize = 1000)
    {
        var what = $"the tags of {Registry}/{repository}";
        var next = new Uri(BaseUri, $"{repository}/tags/list?n={pageSize}");
        var seen = new HashSet<Uri>();
        while (next is not null && seen.Add(next))
        {
            var page = next;
            var (response, bytes) = await GetPageAsync(page, repository, what, cancellationToken).ConfigureAwait(false);
            if (response is null) yield break;
            using var answered = response;
            List<string> tags;
            try
            {
                using var document = JsonDocument.Parse(bytes);
                tags = document.RootElement.TryGetProperty("tags", out var list) && list.ValueKind == JsonValueKind.Array
                    ? list.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()!).ToList()
                    : [];
            }
            catch (JsonException e)
            {
                throw new S3loException(ErrorIds.RegistryError, S3loErrorKind.InvalidData, $"The registry answered {what} with JSON it cannot read: {e.Message}", Registry, e);
            }
            foreach (var tag in tags) yield return tag;
            next = NextPage(response, page);
        }
    }

    /// <summary>One page of a listing, its body read whole and asked for again when it breaks off; no response for a 404.</summary>
    private async Task<(HttpResponseMessage? Response, byte[] Bytes)> GetPageAsync(Uri page, string repository, string what, CancellationToken cancellationToken)
    {
        var budget = NewBudget();
        while (true)
        {
            var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, page), PullScope(repository), what, cancellationToken, budget: budget)
                .ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                response.Dispose();
                return (null, []);
            }
            await EnsureSuccessAsync(response, what, S3loErrorKind.ReadError, cancellationToken).ConfigureAwait(false);
            try
            {
                return (response, await ReadLimitedAsync(response.Content, Manifest.MaxBytes, what, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception e) when (IsConnectionFailure(e, cancellationToken))
            {
                response.Dispose();
                if (!budget.CanRetry) throw Interrupted(what, budget, e);
                await budget.DelayAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                response.Dispose();
                throw;
            }
        }
    }

    /// <summary>Removes a tag. A registry that deletes only by digest (HTTP 400/405 for a tag) is asked to delete the manifest
    /// by <paramref name="digest"/>, which removes every tag pointing at it, unless <paramref name="digestShared"/> says another
    /// tag to keep points at it too: then the tag stays and the error is <c>RegistryError</c>.</summary>
    public async Task DeleteTagAsync(string repository, string tag, Digest digest, bool digestShared, CancellationToken cancellationToken)
    {
        var what = $"manifest {Registry}/{repository}:{tag}";
        using (var byTag = await SendAsync(() => new HttpRequestMessage(HttpMethod.Delete, ApiUri(repository, "manifests", tag)),
                   PushScope(repository), what, cancellationToken).ConfigureAwait(false))
        {
            if (byTag.IsSuccessStatusCode || byTag.StatusCode == HttpStatusCode.NotFound) return;
            if (byTag.StatusCode is not (HttpStatusCode.BadRequest or HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented))
                await EnsureSuccessAsync(byTag, what, S3loErrorKind.WriteError, cancellationToken).ConfigureAwait(false);
        }
        if (digestShared)
            throw new S3loException(ErrorIds.RegistryError, S3loErrorKind.NotImplemented,
                $"{Registry} removes manifests only by digest, and {digest} is also the manifest of another tag of {repository}: the {what} was left in place.", tag);
        using var byDigest = await SendAsync(() => new HttpRequestMessage(HttpMethod.Delete, ApiUri(repository, "manifests", digest.ToString())),
            PushScope(repository), what, cancellationToken).ConfigureAwait(false);
        if (byDigest.StatusCode == HttpStatusCode.NotFound) return;
        await EnsureSuccessAsync(byDigest, what, S3loErrorKind.WriteError, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The next page of a paginated listing, from <c>Link: &lt;/v2/…?last=…&gt;; rel="next"</c>; null on the last page.</summary>
    private Uri? NextPage(HttpResponseMessage response, Uri current)
    {
        if (!response.Headers.TryGetValues("Link", out var links)) return null;
        foreach (var link in links.SelectMany(l => l.Split(',')))
        {
            var match = NextLink().Match(link);
            if (match.Success) return new Uri(current, match.Groups[1].Value);
        }
        return null;
    }

    [GeneratedRegex(@"<([^>]+)>\s*;\s*rel=""?next""?", RegexOptions.IgnoreCase)]
    private static partial Regex NextLink();

    public void Dispose() => _http.Dispose();

    /// <summary>The body of a blob from <paramref name="offset"/> on: a registry that answers the range (206) starts there,
    /// one that sends the whole blob (200) has its first bytes skipped.</summary>
    private async Task<Stream> OpenBlobFromAsync(string repository, Descriptor descriptor, long offset, string what, AttemptBudget budget,
        CancellationToken cancellationToken)
    {
        var response = await SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, ApiUri(repository, "blobs", descriptor.Digest.ToString()));
            if (offset > 0) request.Headers.Range = new RangeHeaderValue(offset, null);
            return request;
        }, PullScope(repository), what, cancellationToken, budget: budget).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            response.Dispose();
            throw new S3loException(ErrorIds.BlobNotFound, S3loErrorKind.NotFound, $"The registry has no {what}.", descriptor.Digest.ToString());
        }
        await EnsureSuccessAsync(response, what, S3loErrorKind.ReadError, cancellationToken).ConfigureAwait(false);
        var body = new ResponseBodyStream(response, await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
        if (offset == 0 || response.StatusCode == HttpStatusCode.PartialContent) return body;
        try
        {
            var skip = new byte[81920];
            for (var left = offset; left > 0;)
            {
                var n = await body.ReadAsync(skip.AsMemory(0, (int)Math.Min(skip.Length, left)), cancellationToken).ConfigureAwait(false);
                if (n == 0) throw new IOException($"The {what} ended before the {offset} bytes already read.");
                left -= n;
            }
            return body;
        }
        catch
        {
            await body.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Sends a request, made afresh by <paramref name="create"/> for each attempt: answers a 401 challenge once
    /// (Basic or Bearer) and resends; waits and resends on 429/5xx and on connection failures, while the operation's
    /// <paramref name="budget"/> (a fresh one when none is given) has attempts left. Returns any other response, a 4xx
    /// among them, for the caller to judge. A request that is not <paramref name="replayable"/> is sent once.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> create, string scope, string what, CancellationToken cancellationToken,
        bool replayable = true, AttemptBudget? budget = null)
    {
        budget ??= NewBudget();
        var challenged = false;
        while (true)
        {
            budget.Take();
            var request = create();
            Authorize(request, scope);
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (e.InnerException is S3loException inner)
            {
                // The body being sent failed its own verification: that is the error to report, not the connection.
                ExceptionDispatchInfo.Capture(inner).Throw();
                throw;
            }
            catch (Exception e) when (IsConnectionFailure(e, cancellationToken))
            {
                if (replayable && budget.CanRetry)
                {
                    await budget.DelayAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }
                throw new S3loException(ErrorIds.RegistryUnreachable, S3loErrorKind.ConnectionError,
                    $"The registry {Registry} ({BaseUri}) could not be reached for {what}: {e.Message}", Registry, e);
            }

            if (response.StatusCode == HttpStatusCode.Unauthorized && !challenged && replayable)
            {
                challenged = true;
                var challenge = response.Headers.WwwAuthenticate.FirstOrDefault();
                response.Dispose();
                if (!await AuthenticateAsync(challenge, scope, what, cancellationToken).ConfigureAwait(false))
                    throw AccessDenied(what, _credentials is null ? "it asks for credentials and none were given or found in the Docker config" : "the credentials were refused");
                budget.Forgive();
                continue;
            }
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                response.Dispose();
                throw AccessDenied(what, _credentials is null ? "no credentials were given or found in the Docker config" : "the credentials were refused");
            }
            if (IsTransient(response.StatusCode) && replayable && budget.CanRetry)
            {
                var retryAfter = RetryAfter(response);
                response.Dispose();
                await budget.DelayAsync(cancellationToken, retryAfter).ConfigureAwait(false);
                continue;
            }
            return response;
        }
    }

    private void Authorize(HttpRequestMessage request, string scope)
    {
        if (_tokens.TryGetValue(scope, out var token)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        else if (_basicRequested && _credentials is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Basic", _credentials.BasicHeaderValue);
    }

    /// <summary>Prepares the answer to a 401 challenge; false when there is none this client can give.</summary>
    private async Task<bool> AuthenticateAsync(AuthenticationHeaderValue? challenge, string scope, string what, CancellationToken cancellationToken)
    {
        if (challenge is null) return false;
        if (challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            if (_credentials is null) return false;
            _basicRequested = true;
            return true;
        }
        if (!challenge.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase)) return false;

        var parameters = ChallengeParameter().Matches(challenge.Parameter ?? "")
            .ToDictionary(m => m.Groups[1].Value.ToLowerInvariant(), m => m.Groups[2].Success ? m.Groups[2].Value : m.Groups[3].Value);
        if (!parameters.TryGetValue("realm", out var realm) || !System.Uri.TryCreate(realm, UriKind.Absolute, out _)) return false;
        var query = new List<string>();
        if (parameters.TryGetValue("service", out var service)) query.Add("service=" + System.Uri.EscapeDataString(service));
        query.Add("scope=" + System.Uri.EscapeDataString(parameters.TryGetValue("scope", out var asked) ? asked : scope));
        var tokenUri = new Uri(realm + (realm.Contains('?') ? "&" : "?") + string.Join("&", query));

        using var request = new HttpRequestMessage(HttpMethod.Get, tokenUri);
        if (_credentials is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Basic", _credentials.BasicHeaderValue);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionFailure(e, cancellationToken))
        {
            throw new S3loException(ErrorIds.RegistryUnreachable, S3loErrorKind.ConnectionError,
                $"The token service {tokenUri.Host} of registry {Registry} could not be reached for {what}: {e.Message}", Registry, e);
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode) return false;
            using var document = await ReadTokenAnswerAsync(response, tokenUri, what, cancellationToken).ConfigureAwait(false);
            var token = document.RootElement.TryGetProperty("token", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()
                : document.RootElement.TryGetProperty("access_token", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()
                : null;
            if (string.IsNullOrEmpty(token)) return false;
            _tokens[scope] = token;
            return true;
        }
    }

    private async Task<JsonDocument> ReadTokenAnswerAsync(HttpResponseMessage response, Uri tokenUri, string what, CancellationToken cancellationToken)
    {
        try
        {
            return JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (Exception e) when (IsConnectionFailure(e, cancellationToken))
        {
            throw new S3loException(ErrorIds.RegistryUnreachable, S3loErrorKind.ConnectionError,
                $"The token service {tokenUri.Host} of registry {Registry} broke off its answer for {what}: {e.Message}", Registry, e);
        }
        catch (JsonException e)
        {
            throw new S3loException(ErrorIds.RegistryError, S3loErrorKind.InvalidData,
                $"The token service {tokenUri.Host} of registry {Registry} answered {what} with JSON it cannot read: {e.Message}", Registry, e);
        }
    }

    private async Task EnsureSuccessAsync(HttpResponseMessage response, string what, S3loErrorKind kind, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        string detail;
        try
        {
            detail = (await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)).Trim();
        }
        catch (Exception e) when (IsConnectionFailure(e, cancellationToken))
        {
            detail = "";
        }
        if (detail.Length > 500) detail = detail[..500] + "…";
        response.Dispose();
        throw new S3loException(ErrorIds.RegistryError, kind,
            $"The registry {Registry} answered {(int)response.StatusCode} {response.ReasonPhrase} for {what}{(detail.Length > 0 ? ": " + detail : ".")}", Registry);
    }

    private S3loException AccessDenied(string what, string why)
        => new(ErrorIds.RegistryAccessDenied, S3loErrorKind.PermissionDenied, $"The registry {Registry} refused access to {what}: {why}.", Registry);

    private AttemptBudget NewBudget() => new(new RetrySchedule(_options.MaxAttempts, _options.RetryDelay, _options.MaxRetryDelay));

    private S3loException Interrupted(string what, AttemptBudget budget, Exception cause)
        => new(ErrorIds.TransferInterrupted, S3loErrorKind.ReadError,
            $"Reading the {what} was cut off {budget.Used} time(s): {cause.Message}", Registry, cause);

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
        => response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };

    // Throttling and server-side failures pass; 501 and 505 say the request itself can never work.
    private static bool IsTransient(HttpStatusCode status)
        => status is HttpStatusCode.TooManyRequests
           || ((int)status >= 500 && status is not HttpStatusCode.NotImplemented and not HttpStatusCode.HttpVersionNotSupported);

    /// <summary>A refused, reset or timed-out connection, as opposed to the caller cancelling.</summary>
    private static bool IsConnectionFailure(Exception e, CancellationToken cancellationToken)
        => e is HttpRequestException or IOException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested);

    private Uri ApiUri(string repository, string kind, string reference) => new(BaseUri, $"{repository}/{kind}/{reference}");

    private static string PullScope(string repository) => $"repository:{repository}:pull";
    private static string PushScope(string repository) => $"repository:{repository}:pull,push";

    private static bool IsLoopback(string host)
    {
        var name = host.Contains(':') ? host[..host.LastIndexOf(':')] : host;
        return name is "localhost" or "127.0.0.1";
    }

    private static async Task<byte[]> ReadLimitedAsync(HttpContent content, long limit, string what, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > limit) throw TooLarge(what, limit);
        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + n > limit) throw TooLarge(what, limit);
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    private static S3loException TooLarge(string what, long limit)
        => new(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData, $"The {what} is larger than the {limit} bytes a manifest may have.", what);

    [GeneratedRegex("""(\w+)=(?:"([^"]*)"|([^,\s]*))""", RegexOptions.CultureInvariant)]
    private static partial Regex ChallengeParameter();

    /// <summary>A response's body that releases the response with it.</summary>
    private sealed class ResponseBodyStream(HttpResponseMessage response, Stream body) : ReadOnlyStream
    {
        public override int Read(Span<byte> buffer) => body.Read(buffer);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => body.ReadAsync(buffer, cancellationToken);
        public override long Length => throw new NotSupportedException();
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                body.Dispose();
                response.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
