using System.Text.Json;
using System.Text.Json.Nodes;

namespace S3lo.Core.Server;

/// <summary>The distribution spec's error responses: a status and <c>{"errors":[{"code","message","detail"}]}</c>.
/// Messages are fixed texts (Distribution's where it has one), so no storage key or exception text reaches a client.</summary>
internal static class RegistryErrors
{
    public const string JsonType = "application/json; charset=utf-8";

    public static HttpResponse Error(int status, string code, string message, JsonNode? detail = null)
    {
        var error = new JsonObject { ["code"] = code, ["message"] = message };
        if (detail is not null) error["detail"] = detail;
        var body = JsonSerializer.SerializeToUtf8Bytes(new JsonObject { ["errors"] = new JsonArray(error) });
        return new HttpResponse(status).WithBody(body, JsonType);
    }

    public static HttpResponse ManifestUnknown(string reference, string message = "manifest unknown")
        => Error(404, "MANIFEST_UNKNOWN", message, new JsonObject { ["Tag"] = reference });

    public static HttpResponse BlobUnknown(string digest) => Error(404, "BLOB_UNKNOWN", "blob unknown to registry", digest);

    public static HttpResponse NameUnknown(string name)
        => Error(404, "NAME_UNKNOWN", "repository name not known to registry", new JsonObject { ["name"] = name });

    public static HttpResponse NameInvalid(string name) => Error(400, "NAME_INVALID", "invalid repository name", new JsonObject { ["name"] = name });

    public static HttpResponse TagInvalid(string tag) => Error(400, "TAG_INVALID", "manifest tag did not match URI", new JsonObject { ["tag"] = tag });

    public static HttpResponse DigestInvalid(string digest)
        => Error(400, "DIGEST_INVALID", "provided digest did not match uploaded content", new JsonObject { ["digest"] = digest });

    public static HttpResponse Unsupported() => Error(405, "UNSUPPORTED", "The operation is unsupported.");

    public static HttpResponse Unauthorized()
        => Error(401, "UNAUTHORIZED", "authentication required").Header("WWW-Authenticate", "Basic realm=\"S3lo\"");

    public static HttpResponse PaginationInvalid() => Error(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested");

    public static HttpResponse Denied(string reference)
        => Error(403, "DENIED", "requested access to the resource is denied: the image is not signed by a required key", new JsonObject { ["reference"] = reference });

    public static HttpResponse Unknown() => Error(500, "UNKNOWN", "unknown error");

    public static HttpResponse Unavailable() => Error(503, "UNAVAILABLE", "the store could not be reached");

    public static HttpResponse NotFound() => new HttpResponse(404).WithBody("404 page not found\n"u8.ToArray(), "text/plain; charset=utf-8");
}
