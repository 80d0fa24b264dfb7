using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Server;

/// <summary>
/// The pull side of the OCI distribution spec over one store: /v2/, manifests, blobs, tags/list and referrers, read
/// only. Each repository is read once per cache period (<see cref="RepositoryView"/>), and a blob is served under a
/// name only when one of that name's tags references it.
/// </summary>
public sealed partial class RegistryHandler
{
    /// <summary>The platform an index is resolved to for a client that does not accept it, as Distribution does.</summary>
    private static readonly Platform DefaultPlatform = new("linux", "amd64");

    private readonly ImageStore _store;
    private readonly IReadOnlyList<NetworkCredential> _credentials;
    private readonly TtlCache<string, RepositoryView> _views;
    private readonly Action<string> _log;
    private readonly TimeSpan? _redirectFor;

    public RegistryHandler(ImageStore store, RegistryServerOptions options)
    {
        _store = store;
        _credentials = options.Credentials;
        _views = new TtlCache<string, RepositoryView>(options.CacheDuration, maxEntries: 1024);
        _log = options.Log ?? (_ => { });
        _redirectFor = options.RedirectDuration;
    }

    public async Task<HttpResponse> HandleAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!request.Path.StartsWith("/v2/", StringComparison.Ordinal) && request.Path != "/v2") return RegistryErrors.NotFound();
        if (!Authorized(request)) return RegistryErrors.Unauthorized();
        if (request.Method is not ("GET" or "HEAD")) return RegistryErrors.Unsupported();
        if (request.Path is "/v2/" or "/v2") return new HttpResponse(200).WithBody("{}"u8.ToArray(), RegistryErrors.JsonType);

        var tags = TagsRoute().Match(request.Path);
        var other = tags.Success ? tags : ObjectRoute().Match(request.Path);
        if (!other.Success) return RegistryErrors.NotFound();
        var name = other.Groups["name"].Value;
        if (!ImageName.IsValidName(name)) return RegistryErrors.NameInvalid(name);
        try
        {
            if (tags.Success) return await TagsAsync(request, name, cancellationToken).ConfigureAwait(false);
            var reference = Uri.UnescapeDataString(other.Groups["ref"].Value);
            return other.Groups["kind"].Value switch
            {
                "manifests" => await ManifestAsync(request, name, reference, cancellationToken).ConfigureAwait(false),
                "blobs" => await BlobAsync(request, name, reference, cancellationToken).ConfigureAwait(false),
                _ => await ReferrersAsync(request, name, reference, cancellationToken).ConfigureAwait(false),
            };
        }
        catch (S3loException e) when (!cancellationToken.IsCancellationRequested)
        {
            // The operator sees what went wrong; the client only a spec error, never a key or a store message.
            _log($"{request.Method} {request.Path}: {e.ErrorId}: {e.Message}");
            return e.Kind is S3loErrorKind.ConnectionError or S3loErrorKind.PermissionDenied ? RegistryErrors.Unavailable() : RegistryErrors.Unknown();
        }
    }

    /// <summary>When set, manifests are served only for images it finds signed.</summary>
    internal SignatureGate? Gate { get; init; }

    private bool Authorized(HttpRequest request)
    {
        if (_credentials.Count == 0) return true;
        var header = request.Header("Authorization");
        if (header is null || !header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return false;
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
        }
        catch (FormatException)
        {
            return false;
        }
        var colon = decoded.IndexOf(':');
        if (colon < 0) return false;
        var user = Encoding.UTF8.GetBytes(decoded[..colon]);
        var password = Encoding.UTF8.GetBytes(decoded[(colon + 1)..]);
        var match = false;
        foreach (var c in _credentials)
        {
            // Every credential is compared in full, in constant time, so timing tells nothing about which part differed.
            match |= CryptographicOperations.FixedTimeEquals(SHA256.HashData(user), SHA256.HashData(Encoding.UTF8.GetBytes(c.UserName)))
                     & CryptographicOperations.FixedTimeEquals(SHA256.HashData(password), SHA256.HashData(Encoding.UTF8.GetBytes(c.Password)));
        }
        return match;
    }

    private Task<RepositoryView> ViewAsync(string name, CancellationToken cancellationToken)
        => _views.GetAsync(name, n => RepositoryView.LoadAsync(_store, n, (what, e) => _log($"skipped {what}: {e.ErrorId}: {e.Message}"), CancellationToken.None),
            cancellationToken);

    private async Task<HttpResponse> ManifestAsync(HttpRequest request, string name, string reference, CancellationToken cancellationToken)
    {
        Digest? digest = null;
        if (reference.Contains(':'))
        {
            if (!Digest.TryParse(reference, out var d)) return RegistryErrors.DigestInvalid(reference);
            digest = d;
        }
        else if (!ImageName.IsValidTag(reference)) return RegistryErrors.TagInvalid(reference);

        var view = await ViewAsync(name, cancellationToken).ConfigureAwait(false);
        var manifest = digest is { } wanted ? view.ByDigest.GetValueOrDefault(wanted) : view.ByTag.GetValueOrDefault(reference);
        if (manifest is null) return RegistryErrors.ManifestUnknown(reference);
        if (Gate is not null && !await Gate.AllowsAsync(view, name, digest is null ? reference : null, manifest.Digest, cancellationToken).ConfigureAwait(false))
            return RegistryErrors.Denied($"{name}:{reference}");

        // Accept negotiation as Distribution 2.8 does it: OCI types are served only to clients that accept them; a Docker
        // manifest list named by tag, to a client that does not accept lists, resolves to its linux/amd64 entry. Unlike
        // Distribution, a Docker schema 2 manifest is served as it is to a client that does not list it (Distribution would
        // rewrite it to schema 1, which it no longer can sign, and fail).
        var accepted = Accepted(request);
        if (manifest.MediaType == MediaTypes.DockerManifestList && digest is null && !accepted.Contains(MediaTypes.DockerManifestList))
        {
            var entry = manifest.Manifests.FirstOrDefault(m => m.Platform is { } p && p.Os == DefaultPlatform.Os && p.Architecture == DefaultPlatform.Architecture);
            if (entry is null || !view.ByDigest.TryGetValue(entry.Digest, out var child)) return RegistryErrors.ManifestUnknown(reference);
            manifest = child;
        }
        if (manifest.MediaType == MediaTypes.OciManifest && !accepted.Contains(MediaTypes.OciManifest))
            return RegistryErrors.ManifestUnknown(reference, "OCI manifest found, but accept header does not support OCI manifests");
        if (manifest.MediaType == MediaTypes.OciIndex && !accepted.Contains(MediaTypes.OciIndex))
            return RegistryErrors.ManifestUnknown(reference, "OCI index found, but accept header does not support OCI indexes");

        return new HttpResponse(200)
            .Header("Docker-Content-Digest", manifest.Digest.ToString())
            .Header("Etag", $"\"{manifest.Digest}\"")
            .WithBody(manifest.Bytes, manifest.MediaType);
    }

    private static HashSet<string> Accepted(HttpRequest request)
        => request.Headers("Accept")
            .SelectMany(h => h.Split(','))
            .Select(t => t.Split(';')[0].Trim())
            .Where(t => t.Length > 0)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    private async Task<HttpResponse> BlobAsync(HttpRequest request, string name, string reference, CancellationToken cancellationToken)
    {
        if (!Digest.TryParse(reference, out var digest)) return RegistryErrors.DigestInvalid(reference);
        var view = await ViewAsync(name, cancellationToken).ConfigureAwait(false);
        if (!view.Blobs.TryGetValue(digest, out var descriptor) && !view.ByDigest.ContainsKey(digest)) return RegistryErrors.BlobUnknown(reference);
        if (Gate is not null && !await Gate.AllowsBlobAsync(view, name, digest, cancellationToken).ConfigureAwait(false))
            return RegistryErrors.Denied($"{name}@{digest}");
        var head = request.Method == "HEAD";

        if (view.ByDigest.TryGetValue(digest, out var manifest))
        {
            var bytes = manifest.Bytes;
            return Ranged(request, digest, bytes.Length, (start, length) => BlobResponse(digest, length, start, bytes.Length)
                .WithBody(bytes.AsMemory((int)(start ?? 0), (int)length), "application/octet-stream"));
        }
        var size = descriptor!.Size;
        if (head)
        {
            if (!await BlobStoredAsync(digest, cancellationToken).ConfigureAwait(false)) return RegistryErrors.BlobUnknown(reference);
            return Ranged(request, digest, size, (start, length) => BlobResponse(digest, length, start, size).WithLength(length, "application/octet-stream"));
        }

        var range = ParseRange(request.Header("Range"), size);
        if (range is { Satisfiable: false }) return Unsatisfiable(digest, size);
        // -Redirect: a whole blob stored as one object is fetched by the client from the store itself; a range, and a layer
        // stored only as chunks (which the store cannot hand out as one object), are still served here.
        if (range is null && _redirectFor is { } validFor
            && await _store.TryPresignBlobAsync(digest, validFor, cancellationToken).ConfigureAwait(false) is { } signed)
            return new HttpResponse(307).Header("Location", signed.AbsoluteUri).Header("Docker-Content-Digest", digest.ToString());
        var (offset, count) = range is { } r ? (r.Start, r.Length) : (0L, size);
        Stream content;
        try
        {
            // A whole blob is checked against its digest as it streams (a mismatch aborts the response); of a chunked layer
            // that digest covers every frame sent, so the frames are not also decompressed and hashed one by one. A part
            // cannot be checked so: it is read from its offset on (the bytes before it are not read), and of a chunked layer
            // each chunk it touches is still checked whole against its raw digest.
            content = range is null
                ? await _store.OpenBlobAsync(descriptor, cancellationToken, checkEachChunk: false).ConfigureAwait(false)
                : await _store.OpenBlobContentAsync(descriptor, offset, count, cancellationToken).ConfigureAwait(false);
        }
        catch (S3loException e) when (e.ErrorId is ErrorIds.BlobNotFound)
        {
            return RegistryErrors.BlobUnknown(reference);
        }
        var response = BlobResponse(digest, count, range is null ? null : offset, size);
        response.Owned = content;
        return response.WithStream(count, "application/octet-stream",
            (output, ct) => CopyExactlyAsync(content, output, count, range is null, ct));
    }

    private async Task<bool> BlobStoredAsync(Digest digest, CancellationToken cancellationToken)
        => await _store.BlobExistsAsync(digest, cancellationToken).ConfigureAwait(false)
           || await _store.TryGetRecipeAsync(digest, cancellationToken).ConfigureAwait(false) is not null;

    private static HttpResponse BlobResponse(Digest digest, long length, long? rangeStart, long size)
    {
        var response = new HttpResponse(rangeStart is null ? 200 : 206)
            .Header("Accept-Ranges", "bytes")
            .Header("Cache-Control", "max-age=31536000")
            .Header("Docker-Content-Digest", digest.ToString())
            .Header("Etag", $"\"{digest}\"");
        if (rangeStart is { } start) response.Header("Content-Range", $"bytes {start}-{start + length - 1}/{size}");
        return response;
    }

    /// <summary>Builds the response for the part <c>Range</c> asks (start null: the whole), or a 416 when it lies past the end.</summary>
    private static HttpResponse Ranged(HttpRequest request, Digest digest, long size, Func<long?, long, HttpResponse> build)
    {
        var range = ParseRange(request.Header("Range"), size);
        if (range is null) return build(null, size);
        return range.Value.Satisfiable ? build(range.Value.Start, range.Value.Length) : Unsatisfiable(digest, size);
    }

    private static HttpResponse Unsatisfiable(Digest digest, long size)
        => new HttpResponse(416)
            .Header("Content-Range", $"bytes */{size}")
            .Header("Docker-Content-Digest", digest.ToString())
            .WithBody("invalid range: failed to overlap\n"u8.ToArray(), "text/plain; charset=utf-8");

    /// <summary>One byte range (<c>bytes=a-b</c>, <c>a-</c> or <c>-n</c>); null when there is none or it is not one this
    /// server honours (several ranges, other units), so the whole blob is sent, as RFC 9110 allows.</summary>
    internal static ByteRange? ParseRange(string? header, long size)
    {
        if (header is null || !header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase)) return null;
        var spec = header[6..].Trim();
        if (spec.Contains(',')) return null;
        var dash = spec.IndexOf('-');
        if (dash < 0) return null;
        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.Length == 0)
        {
            if (!long.TryParse(last, out var suffix) || suffix < 0) return null;
            if (suffix == 0 || size == 0) return new ByteRange(0, 0, false);
            var n = Math.Min(suffix, size);
            return new ByteRange(size - n, n, true);
        }
        if (!long.TryParse(first, out var start) || start < 0) return null;
        long end;
        if (last.Length == 0) end = size - 1;
        else if (!long.TryParse(last, out end) || end < start) return null;
        if (start >= size) return new ByteRange(start, 0, false);
        end = Math.Min(end, size - 1);
        return new ByteRange(start, end - start + 1, true);
    }

    /// <summary>What one read and one send move: a local store's file buffer is no larger (LocalObjectStore), so the file is
    /// read straight into the block that is hashed and sent, with no copy between; 80 KiB blocks cost a copy and many
    /// more reads, sends and awaits per blob.</summary>
    private const int CopyBlockBytes = 1 << 20;

    /// <summary>Copies <paramref name="count"/> bytes; for a whole blob, reads on to the end so the verifying stream checks the digest
    /// before the last bytes leave (a mismatch then aborts the response instead of completing it).</summary>
    private static async Task CopyExactlyAsync(Stream content, Stream output, long count, bool toEnd, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(count, 1, CopyBlockBytes));
        try
        {
            while (count > 0)
            {
                // What a read returns is sent at once: a store that streams (S3, Azure) is not waited on for a whole block.
                var read = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)), cancellationToken).ConfigureAwait(false);
                if (read == 0) throw new EndOfStreamException("The blob ended before its size.");
                count -= read;
                if (count == 0 && toEnd && await content.ReadAsync(new byte[1], cancellationToken).ConfigureAwait(false) != 0)
                    throw new InvalidDataException("The blob is longer than its size.");
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            // Every send was awaited, so nothing still uses the buffer.
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<HttpResponse> TagsAsync(HttpRequest request, string name, CancellationToken cancellationToken)
    {
        int? n = null;
        if (request.Query.TryGetValue("n", out var text))
        {
            if (!int.TryParse(text, out var parsed) || parsed < 0) return RegistryErrors.PaginationInvalid();
            n = parsed;
        }
        var view = await ViewAsync(name, cancellationToken).ConfigureAwait(false);
        if (!view.Exists) return RegistryErrors.NameUnknown(name);
        var after = request.Query.GetValueOrDefault("last");
        var remaining = view.Tags.Where(t => after is null || string.CompareOrdinal(t, after) > 0).ToList();
        var page = n is { } limit ? remaining.Take(limit).ToList() : remaining;
        var body = JsonSerializer.SerializeToUtf8Bytes(new JsonObject { ["name"] = name, ["tags"] = new JsonArray(page.Select(t => (JsonNode)t).ToArray()) });
        var response = new HttpResponse(200);
        if (n is { } size && page.Count > 0 && remaining.Count > page.Count)
            response.Header("Link", $"</v2/{name}/tags/list?n={size}&last={Uri.EscapeDataString(page[^1])}>; rel=\"next\"");
        return response.WithBody(body, RegistryErrors.JsonType);
    }

    private async Task<HttpResponse> ReferrersAsync(HttpRequest request, string name, string reference, CancellationToken cancellationToken)
    {
        if (!Digest.TryParse(reference, out var subject)) return RegistryErrors.DigestInvalid(reference);
        var view = await ViewAsync(name, cancellationToken).ConfigureAwait(false);
        IEnumerable<ReferrerEntry> found = view.Referrers.GetValueOrDefault(subject) ?? [];
        var response = new HttpResponse(200);
        if (request.Query.TryGetValue("artifactType", out var artifactType))
        {
            found = found.Where(r => r.ArtifactType == artifactType);
            response.Header("OCI-Filters-Applied", "artifactType");
        }
        var manifests = new JsonArray();
        foreach (var r in found.OrderBy(r => r.Digest.ToString(), StringComparer.Ordinal))
        {
            var entry = new JsonObject { ["mediaType"] = r.MediaType, ["digest"] = r.Digest.ToString(), ["size"] = r.Size };
            if (r.ArtifactType is not null) entry["artifactType"] = r.ArtifactType;
            if (r.Annotations is { } a) entry["annotations"] = JsonNode.Parse(a.GetRawText());
            manifests.Add(entry);
        }
        var index = new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = MediaTypes.OciIndex, ["manifests"] = manifests };
        return response.WithBody(JsonSerializer.SerializeToUtf8Bytes(index), MediaTypes.OciIndex);
    }

    [GeneratedRegex("^/v2/(?<name>.+)/tags/list$", RegexOptions.CultureInvariant)]
    private static partial Regex TagsRoute();

    [GeneratedRegex("^/v2/(?<name>.+)/(?<kind>manifests|blobs|referrers)/(?<ref>[^/]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex ObjectRoute();
}

internal readonly record struct ByteRange(long Start, long Length, bool Satisfiable);
