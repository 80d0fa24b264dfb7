using System.Diagnostics;
using System.Diagnostics.Tracing;
using Amazon;
using Azure.Core.Diagnostics;

namespace S3lo.Core.Diagnostics;

/// <summary>
/// The SDKs' own logging, for -Debug: the AWS SDK's trace source (with its request metrics) and Azure.Core's event
/// source. Both are process-wide, so they are started once, on the first traced operation that wants them, and each
/// message goes to the sink of the flow that wrote it (the SDKs write their messages on the request's own flow);
/// messages of flows without a debug sink are dropped. Every message is cleared of secrets before it is handed on.
/// </summary>
internal static class SdkDebugListeners
{
    private static int _started;

    // Held for the life of the process: a listener that is collected stops listening.
    private static AzureEventSourceListener? AzureListener { get; set; }

    public static void EnsureStarted()
    {
        if (Interlocked.Exchange(ref _started, 1) == 1) return;
        AWSConfigs.LoggingConfig.LogTo = LoggingOptions.SystemDiagnostics;
        AWSConfigs.LoggingConfig.LogMetrics = true;
        AWSConfigs.AddTraceListener("Amazon", new SinkTraceListener());
        // Azure.Core already leaves out header values and query parameters it does not know to be safe.
        AzureListener = new AzureEventSourceListener((_, message) => Write("Azure.Core", message), EventLevel.Verbose);
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
