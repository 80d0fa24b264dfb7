using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace S3lo.Core.Diagnostics;

/// <summary>
/// Reports every HTTP request of a store or registry client to the flow's <see cref="RequestTrace"/>: method, URL without
/// secrets, status, bytes and time, and for a request sent again after a failure, which attempt it is and why. Headers
/// are never reported (they carry the Authorization and the signatures).
/// </summary>
internal sealed class TracingHandler(string service, HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (RequestTrace.Current is not { } scope) return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var target = Redaction.Url(request.RequestUri);
        var range = request.Headers.Range?.ToString();
        var key = request.Method.Method + " " + target;
        var retryOf = scope.RetryOf(key);
        var sent = request.Content?.Headers.ContentLength;
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var outcome = Outcome(response);
            if (IsRetryable(response.StatusCode)) scope.Failed(key, outcome);
            else scope.Succeeded(key);
            scope.Sink.Request(new RequestRecord(service, request.Method.Method, range is null ? target : target + " [" + range + "]", outcome, sent,
                response.Content.Headers.ContentLength, Stopwatch.GetElapsedTime(started), retryOf));
            return response;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            var reason = Redaction.Text(FirstLine(e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? e.Message + ": " + inner.Message : e.Message));
            scope.Failed(key, reason);
            scope.Sink.Request(new RequestRecord(service, request.Method.Method, target, "failed: " + reason, sent, null,
                Stopwatch.GetElapsedTime(started), retryOf));
            throw;
        }
    }

    private static bool IsRetryable(HttpStatusCode status) => (int)status >= 500 || status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout;

    private static string Outcome(HttpResponseMessage response)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"{(int)response.StatusCode} {response.ReasonPhrase}").TrimEnd();
        // Azure names its error in a header; S3 and registries only in the body, which is the caller's to read.
        if (response.Headers.TryGetValues("x-ms-error-code", out var codes) && codes.FirstOrDefault() is { Length: > 0 } code) text += " " + code;
        return text;
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
