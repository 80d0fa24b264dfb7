using System.Net;
using System.Text;

namespace S3lo.Core.Server;

/// <summary>
/// A response: status, headers, and a body that is either bytes in memory or written by a callback that streams
/// exactly <see cref="ContentLength"/> bytes (a blob from the store). HEAD sends the same head without the body.
/// </summary>
public sealed class HttpResponse
{
    private readonly List<KeyValuePair<string, string>> _headers = [];

    public HttpResponse(int status) => Status = status;

    public int Status { get; }
    public IReadOnlyList<KeyValuePair<string, string>> HeaderList => _headers;
    public ReadOnlyMemory<byte> Body { get; private set; }
    public long ContentLength { get; private set; }
    /// <summary>What the body is streamed from (an open store read), disposed once the response is sent or abandoned.</summary>
    public IAsyncDisposable? Owned { get; set; }

    /// <summary>Streams the body to the connection; null when <see cref="Body"/> is the body.</summary>
    public Func<Stream, CancellationToken, Task>? WriteBody { get; private set; }

    public HttpResponse Header(string name, string value)
    {
        _headers.Add(KeyValuePair.Create(name, value));
        return this;
    }

    public string? GetHeader(string name) => _headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    public HttpResponse WithBody(ReadOnlyMemory<byte> body, string contentType)
    {
        Body = body;
        ContentLength = body.Length;
        WriteBody = null;
        return Header("Content-Type", contentType);
    }

    /// <summary>The head of a body that is not sent (HEAD): its length and type only.</summary>
    public HttpResponse WithLength(long length, string contentType)
    {
        ContentLength = length;
        return Header("Content-Type", contentType);
    }

    public HttpResponse WithStream(long length, string contentType, Func<Stream, CancellationToken, Task> write)
    {
        ContentLength = length;
        WriteBody = write;
        return Header("Content-Type", contentType);
    }

    /// <summary>Writes the head, then (unless <paramref name="head"/>) the body.</summary>
    internal async Task WriteAsync(Stream stream, bool head, bool keepAlive, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        text.Append("HTTP/1.1 ").Append(Status).Append(' ').Append(Reason(Status)).Append("\r\n");
        foreach (var (name, value) in _headers) text.Append(name).Append(": ").Append(value).Append("\r\n");
        text.Append("Content-Length: ").Append(ContentLength).Append("\r\n");
        text.Append("Date: ").Append(DateTimeOffset.UtcNow.ToString("R")).Append("\r\n");
        if (!keepAlive) text.Append("Connection: close\r\n");
        text.Append("\r\n");
        // A body in memory (a manifest, an error) goes out with the head in one send, so the client gets one segment, not two.
        var inline = head || WriteBody is not null ? 0 : Body.Length;
        var headText = text.ToString();
        var bytes = new byte[Encoding.Latin1.GetByteCount(headText) + inline];
        var headLength = Encoding.Latin1.GetBytes(headText, bytes);
        Body.Span[..inline].CopyTo(bytes.AsSpan(headLength));
        await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        if (!head && WriteBody is not null) await WriteBody(stream, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string Reason(int status) => status switch
    {
        206 => "Partial Content",
        416 => "Range Not Satisfiable",
        _ => Enum.IsDefined(typeof(HttpStatusCode), status)
            ? System.Text.RegularExpressions.Regex.Replace(((HttpStatusCode)status).ToString(), "(?<=[a-z])(?=[A-Z])", " ")
            : "Status",
    };
}
