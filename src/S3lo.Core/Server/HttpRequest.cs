using System.Text;

namespace S3lo.Core.Server;

/// <summary>One HTTP/1.1 request's head (the server reads no request bodies: every method with one is refused).</summary>
public sealed class HttpRequest
{
    private readonly List<KeyValuePair<string, string>> _headers;

    private HttpRequest(string method, string target, string version, List<KeyValuePair<string, string>> headers)
    {
        Method = method;
        Target = target;
        Version = version;
        _headers = headers;
        var q = target.IndexOf('?');
        Path = q < 0 ? target : target[..q];
        Query = ParseQuery(q < 0 ? "" : target[(q + 1)..]);
    }

    public string Method { get; }
    /// <summary>The request target as sent: path and query.</summary>
    public string Target { get; }
    public string Path { get; }
    public string Version { get; }
    public IReadOnlyDictionary<string, string> Query { get; }

    public string? Header(string name) => _headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    public IEnumerable<string> Headers(string name)
        => _headers.Where(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value);

    /// <summary>Whether the request carries a body (which the server does not read, so the connection cannot be reused).</summary>
    public bool HasBody => Header("Transfer-Encoding") is not null || (long.TryParse(Header("Content-Length"), out var n) && n > 0);

    /// <summary>HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes it.</summary>
    public bool KeepAlive
        => Version == "HTTP/1.1" && !(Header("Connection")?.Contains("close", StringComparison.OrdinalIgnoreCase) ?? false) && !HasBody;

    /// <summary>Parses a request head (request line and header lines, without the blank line); null when it is malformed.</summary>
    internal static HttpRequest? Parse(ReadOnlySpan<byte> head)
    {
        var lines = Encoding.Latin1.GetString(head).Split("\r\n");
        var parts = lines[0].Split(' ');
        if (parts.Length != 3 || parts[0].Length == 0 || !parts[1].StartsWith('/') || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal)) return null;
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0) return null;
            headers.Add(KeyValuePair.Create(line[..colon].Trim(), line[(colon + 1)..].Trim()));
        }
        return new HttpRequest(parts[0], parts[1], parts[2], headers);
    }

    private static Dictionary<string, string> ParseQuery(string query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString((eq < 0 ? pair : pair[..eq]).Replace('+', ' '));
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            result.TryAdd(key, value);
        }
        return result;
    }
}

/// <summary>Reads request heads off a connection, keeping bytes that arrive past one head for the next (pipelining).</summary>
internal sealed class HttpRequestReader(Stream stream)
{
    /// <summary>Heads longer than this are refused: a registry request needs a fraction of it.</summary>
    public const int MaxHeadBytes = 32 * 1024;

    private readonly byte[] _buffer = new byte[MaxHeadBytes];
    private int _filled;

    /// <summary>The next request; null when the client closed the connection between requests.</summary>
    /// <exception cref="InvalidDataException">The head is malformed or too long.</exception>
    public async Task<HttpRequest?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var end = _buffer.AsSpan(0, _filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                var request = HttpRequest.Parse(_buffer.AsSpan(0, end)) ?? throw new InvalidDataException("malformed request head");
                var rest = _filled - (end + 4);
                Buffer.BlockCopy(_buffer, end + 4, _buffer, 0, rest);
                _filled = rest;
                return request;
            }
            // A method starts with a letter. Anything else, above all a TLS ClientHello (0x16) from a client trying HTTPS
            // first, is refused at its first byte instead of waiting for a blank line that never comes: the client gets
            // its answer (Go's clients then fall back to plain HTTP) at once rather than after the idle timeout.
            if (_filled > 0 && _buffer[0] is not (>= (byte)'A' and <= (byte)'Z'))
                throw new InvalidDataException(_buffer[0] == 0x16 ? "a TLS handshake on the plain-HTTP port" : "not an HTTP request");
            if (_filled == _buffer.Length) throw new InvalidDataException("request head too long");
            var read = await stream.ReadAsync(_buffer.AsMemory(_filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (_filled == 0) return null;
                throw new InvalidDataException("connection closed inside a request head");
            }
            _filled += read;
        }
    }
}
