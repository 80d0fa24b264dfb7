using System.Text;
using System.Text.RegularExpressions;

namespace S3lo.Core.Diagnostics;

/// <summary>
/// Takes secrets out of what the trace shows: a URL keeps its scheme, host, port, path and the query parameters known to
/// carry none (listing, paging, multipart and registry parameters); every other value, a SAS token's signature among them,
/// becomes <c>REDACTED</c>, and user information is dropped. Text (SDK messages, errors) loses the values of
/// Authorization headers, signatures, tokens, passwords and keys.
/// </summary>
public static partial class Redaction
{
    public const string Redacted = "REDACTED";

    private static readonly HashSet<string> PlainQueryKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        // S3
        "list-type", "prefix", "delimiter", "continuation-token", "max-keys", "start-after", "encoding-type", "fetch-owner",
        "delete", "uploads", "uploadId", "partNumber", "versionId", "x-id", "location", "tagging", "marker", "key-marker", "upload-id-marker",
        // Azure Blob
        "restype", "comp", "maxresults", "include", "blockid", "blocklisttype", "timeout",
        // Distribution registry and its token endpoint
        "n", "last", "digest", "mount", "from", "scope", "service",
    };

    /// <summary>The URL as it may be shown.</summary>
    public static string Url(Uri? uri)
    {
        if (uri is null) return string.Empty;
        // From the text, not the Uri's components: the AWS SDK makes its URIs without path canonicalization, which
        // GetComponents refuses.
        var text = uri.OriginalString.Split('#', 2)[0];
        var question = text.IndexOf('?');
        var query = question < 0 ? "" : text[(question + 1)..];
        var address = question < 0 ? text : text[..question];
        var scheme = address.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            var authorityStart = scheme + 3;
            var pathStart = address.IndexOf('/', authorityStart);
            var at = address.LastIndexOf('@', pathStart < 0 ? address.Length - 1 : pathStart);
            if (at >= authorityStart) address = address[..authorityStart] + address[(at + 1)..];
        }
        if (query.Length == 0) return address;
        var shown = new StringBuilder(address);
        var separator = '?';
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=');
            var name = equals < 0 ? pair : pair[..equals];
            shown.Append(separator).Append(name);
            if (equals >= 0) shown.Append('=').Append(PlainQueryKeys.Contains(Uri.UnescapeDataString(name)) ? pair[(equals + 1)..] : Redacted);
            separator = '&';
        }
        return shown.ToString();
    }

    /// <summary>The text with the values of credentials taken out.</summary>
    public static string Text(string? text)
    {
        if (string.IsNullOrEmpty(text)) return string.Empty;
        text = HeaderValue().Replace(text, m => m.Groups["name"].Value + m.Groups["sep"].Value + Redacted);
        text = SchemeCredential().Replace(text, m => m.Groups["scheme"].Value + " " + Redacted);
        text = QueryValue().Replace(text, m => m.Groups["name"].Value + "=" + Redacted);
        return text;
    }

    [GeneratedRegex(@"(?<name>\b(?:Authorization|Proxy-Authorization|x-amz-security-token|x-amz-content-sha256|x-ms-copy-source-authorization))(?<sep>\s*[:=]\s*)[^\r\n]*", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex HeaderValue();

    [GeneratedRegex(@"(?<scheme>\b(?:Bearer|Basic|SharedKey|SharedKeyLite|AWS4-HMAC-SHA256))\s+[^\s""']+(?:\s*,\s*\w+=[^\s,""']+)*", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SchemeCredential();

    [GeneratedRegex(@"(?<name>\b(?:sig|signature|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|AccountKey|SharedAccessSignature|access_token|refresh_token|token|password|client_secret|code|skoid|sktid|skt|ske|sks|skv))\s*=\s*[^&\s;""']+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex QueryValue();
}
