using System.Diagnostics;
using System.Diagnostics.Tracing;
using Amazon;
using Azure.Core.Diagnostics;

namespace S3lo.Core.Diagnostics;

/// <summary>
/// The SDKs' own logging, for -Debug: the AWS SDK's trace source (with its request metrics) and Azure.Core's event
/// source. Both are process-wide, so they are switched on while at least one traced operation wants them and off again
/// when the last such operation ends (the SDKs would otherwise go on formatting a message per request for nobody). Each
/// message goes to the sink of the flow that wrote it (the SDKs write their messages on the request's own flow);
/// messages of flows without a debug sink are dropped. Every message is cleared of secrets before it is handed on.
/// </summary>
internal static class SdkDebugListeners
{
    private const string TraceSource = "Amazon";
    private static readonly object Gate = new();
    private static int _users;
    private static SinkTraceListener? _awsListener;

    // Held while switched on: a listener that is collected stops listening.
    private static AzureEventSourceListener? _azureListener;

    /// <summary>Whether the SDKs' logging is switched on now.</summary>
    internal static bool IsListening
    {
        get { lock (Gate) return _users > 0; }
    }

    /// <summary>Switches the SDKs' logging on until the result is disposed (and no other operation still wants it).</summary>
    public static IDisposable Acquire()
    {
        lock (Gate)
        {
            if (_users++ == 0)
            {
                AWSConfigs.LoggingConfig.LogTo = LoggingOptions.SystemDiagnostics;
                AWSConfigs.LoggingConfig.LogMetrics = true;
                _awsListener = new SinkTraceListener();
                AWSConfigs.AddTraceListener(TraceSource, _awsListener);
                // Azure.Core already leaves out header values and query parameters it does not know to be safe.
                _azureListener = new AzureEventSourceListener((_, message) => Write("Azure.Core", message), EventLevel.Verbose);
            }
        }
        return new Release();
    }

    private static void Stop()
    {
        lock (Gate)
        {
            if (--_users > 0) return;
            AWSConfigs.LoggingConfig.LogTo = LoggingOptions.None;
            AWSConfigs.LoggingConfig.LogMetrics = false;
            if (_awsListener is not null) AWSConfigs.RemoveTraceListener(TraceSource, _awsListener.Name);
            _awsListener = null;
            _azureListener?.Dispose();
            _azureListener = null;
        }
    }

    private sealed class Release : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) Stop();
        }
    }

    private static void Write(string source, string? message)
    {
        if (string.IsNullOrWhiteSpace(message) || RequestTrace.Current is not { Sink.DebugEnabled: true } scope) return;
        scope.Sink.Debug(source, Redaction.Text(message.Trim()));
    }

    private sealed class SinkTraceListener : TraceListener
    {
        public SinkTraceListener() : base("S3lo") { }

        public override void Write(string? message) => SdkDebugListeners.Write("AWS SDK", message);

        public override void WriteLine(string? message) => SdkDebugListeners.Write("AWS SDK", message);

        public override void TraceEvent(TraceEventCache? eventCache, string source, TraceEventType eventType, int id, string? message)
            => SdkDebugListeners.Write("AWS SDK", message);

        public override void TraceEvent(TraceEventCache? eventCache, string source, TraceEventType eventType, int id, string? format, params object?[]? args)
            => SdkDebugListeners.Write("AWS SDK", args is { Length: > 0 } && format is not null ? string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args) : format);
    }
}
