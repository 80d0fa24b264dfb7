using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace S3lo.Core.Diagnostics;

/// <summary>One request to a store or a registry, as -Verbose shows it.</summary>
/// <param name="Service"><c>S3</c>, <c>Azure</c>, <c>Registry</c> or <c>local</c>.</param>
/// <param name="Method">The HTTP method, or for a local store the operation (GET, PUT, HEAD, LIST, DELETE).</param>
/// <param name="Target">The URL with every secret taken out (see <see cref="Redaction"/>), or the local path.</param>
/// <param name="Outcome">The status (<c>200 OK</c>, <c>404 Not Found</c>), or why the request failed.</param>
/// <param name="RetryReason">For a request repeated after a failure, which attempt it is and what failed before.</param>
public sealed record RequestRecord(string Service, string Method, string Target, string Outcome, long? BytesSent, long? BytesReceived,
    TimeSpan Elapsed, string? RetryReason = null)
{
    public override string ToString()
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"{Service} {Method} {Target} -> {Outcome}");
        if (BytesSent is > 0) text += string.Create(CultureInfo.InvariantCulture, $", {BytesSent} B sent");
        if (BytesReceived is { } received) text += string.Create(CultureInfo.InvariantCulture, $", {received} B received");
        text += string.Create(CultureInfo.InvariantCulture, $", {Elapsed.TotalMilliseconds:0} ms");
        return RetryReason is null ? text : text + " (" + RetryReason + ")";
    }
}

/// <summary>Where the requests of one operation are reported; the PowerShell cmdlets write them to the verbose and debug streams.</summary>
public interface IRequestTraceSink
{
    /// <summary>Whether the SDKs' own detail is wanted (-Debug).</summary>
    bool DebugEnabled { get; }

    void Request(RequestRecord request);

    /// <summary>A message of an SDK (AWS SDK, Azure.Core), already cleared of secrets.</summary>
    void Debug(string source, string message);
}

/// <summary>
/// The trace of the operation running on this async flow. <see cref="Begin"/> sets a sink for everything the flow does
/// from there on, on every thread it continues on; the stores and the registry client report each request to it.
/// Without a sink nothing is measured or formatted.
/// </summary>
public static class RequestTrace
{
    private static readonly AsyncLocal<Scope?> CurrentScope = new();

    /// <summary>Reports this flow's requests to <paramref name="sink"/> until the result is disposed.</summary>
    public static IDisposable Begin(IRequestTraceSink sink)
    {
        var scope = new Scope(sink, CurrentScope.Value, sink.DebugEnabled ? SdkDebugListeners.Acquire() : null);
        CurrentScope.Value = scope;
        return scope;
    }

    internal static Scope? Current => CurrentScope.Value;

    /// <summary>Reports an operation of a local store, timed from <paramref name="started"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    internal static void Local(string method, string path, string outcome, long started, long? bytesSent = null, long? bytesReceived = null)
    {
        if (CurrentScope.Value is not { } scope) return;
        scope.Sink.Request(new RequestRecord("local", method, path, outcome, bytesSent, bytesReceived, Stopwatch.GetElapsedTime(started)));
    }

    internal sealed class Scope(IRequestTraceSink sink, Scope? outer, IDisposable? sdkLogging) : IDisposable
    {
        // The last failure of each request (method and redacted URL), to tell a retry from a first attempt: the SDKs and
        // S3lo's own retry loops all send the same request again.
        private readonly ConcurrentDictionary<string, (int Attempt, string Reason)> _failures = new();

        public IRequestTraceSink Sink => sink;

        /// <summary>For a request that failed before: which attempt this one is, and why the last one failed.</summary>
        public string? RetryOf(string request)
            => _failures.TryGetValue(request, out var failed)
                ? string.Create(CultureInfo.InvariantCulture, $"attempt {failed.Attempt + 1}, retried after {failed.Reason}")
                : null;

        public void Failed(string request, string reason)
            => _failures.AddOrUpdate(request, (1, reason), (_, last) => (last.Attempt + 1, reason));

        public void Succeeded(string request) => _failures.TryRemove(request, out _);

        public void Dispose()
        {
            if (CurrentScope.Value == this) CurrentScope.Value = outer;
            sdkLogging?.Dispose();
        }
    }
}
