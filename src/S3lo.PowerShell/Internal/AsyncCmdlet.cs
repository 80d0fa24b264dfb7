using System.Collections.Concurrent;
using System.Diagnostics;
using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Diagnostics;
using S3lo.Core.Transfer;

namespace S3lo.PowerShell.Internal;

/// <summary>
/// The one bridge between the async engine and the pipeline: engine work runs on the thread pool,
/// while everything it wants written (objects, errors, warnings, progress) is queued and written here,
/// on the pipeline thread. Ctrl+C (StopProcessing) cancels the work's token.
/// </summary>
public abstract class AsyncCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private BlockingCollection<Action>? _queue;

    protected override void StopProcessing() => _stopping.Cancel();

    /// <summary>Runs <paramref name="work"/> to completion, writing what it queues as it goes.</summary>
    protected void Run(Func<CancellationToken, Task> work)
    {
        using var queue = new BlockingCollection<Action>();
        _queue = queue;
        var trace = CreateTraceSink();
        var task = Task.Run(async () =>
        {
            using var tracing = trace is null ? null : RequestTrace.Begin(trace);
            try
            {
                await work(_stopping.Token).ConfigureAwait(false);
            }
            finally
            {
                queue.CompleteAdding();
            }
        });
        try
        {
            foreach (var action in queue.GetConsumingEnumerable())
                action();
        }
        catch (PipelineStoppedException)
        {
            _stopping.Cancel();
            foreach (var _ in queue.GetConsumingEnumerable()) { }
            throw;
        }
        finally
        {
            _queue = null;
        }
        try
        {
            task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }

    /// <summary>Queues an action for the pipeline thread; callable from any thread while <see cref="Run"/> is active.</summary>
    protected void Post(Action action)
    {
        var queue = _queue ?? throw new InvalidOperationException("Post is only valid inside Run.");
        try
        {
            queue.Add(action);
        }
        catch (InvalidOperationException) when (queue.IsAddingCompleted)
        {
        }
    }

    /// <summary>With -Verbose (or $VerbosePreference) each store and registry request goes to the verbose stream, with -Debug
    /// the SDKs' own messages to the debug stream; null when neither is wanted, so that nothing is traced.</summary>
    private RequestTraceSink? CreateTraceSink()
    {
        var verbose = Wants("Verbose", "VerbosePreference");
        var debug = Wants("Debug", "DebugPreference");
        return verbose || debug ? new RequestTraceSink(this, verbose, debug) : null;
    }

    private bool Wants(string parameter, string preference)
    {
        if (MyInvocation.BoundParameters.TryGetValue(parameter, out var given)) return given is SwitchParameter { IsPresent: true } or true;
        return GetVariableValue(preference) is ActionPreference p && p is not (ActionPreference.SilentlyContinue or ActionPreference.Ignore);
    }

    protected void PostObject(object value) => Post(() => WriteObject(value));

    protected void PostError(ErrorRecord error) => Post(() => WriteError(error));

    protected void PostWarning(string message) => Post(() => WriteWarning(message));

    /// <summary>
    /// Runs one item's work; an S3lo failure becomes a non-terminating error for that item and the
    /// cmdlet goes on with the next.
    /// </summary>
    protected async Task PerItemAsync(object target, Func<Task> work)
    {
        try
        {
            await work().ConfigureAwait(false);
        }
        catch (S3loException e)
        {
            PostError(Errors.From(e, target));
        }
    }

    /// <summary>
    /// Runs one item's work as <see cref="PerItemAsync"/> does, ending <paramref name="progress"/>'s activity once the
    /// work is done or has failed.
    /// </summary>
    private protected void RunWithProgress<T>(object target, ProgressSink<T> progress, Func<CancellationToken, Task> work) where T : class
        => Run(ct => PerItemAsync(target, async () =>
        {
            try
            {
                await work(ct).ConfigureAwait(false);
            }
            finally
            {
                progress.Complete();
            }
        }));

    /// <summary>A progress sink for byte transfers that writes at most four records a second, or none when progress is off.</summary>
    private protected ProgressSink<TransferProgress> CreateProgress(int activityId)
        => new(this, activityId, ProgressEnabled(), value => (value.Activity,
            $"{value.Status}: {FormatBytes(value.BytesDone)} of {FormatBytes(value.BytesTotal)}", value.PercentComplete));

    /// <summary>A progress sink for any engine report, described by <paramref name="describe"/> as activity, status and
    /// percent complete (-1 when unknown); at most four records a second, none when progress is off.</summary>
    private protected ProgressSink<T> CreateProgress<T>(int activityId, Func<T, (string Activity, string Status, int Percent)> describe) where T : class
        => new(this, activityId, ProgressEnabled(), describe);

    internal static string FormatBytes(long bytes) => Formatting.Display.Size(bytes);

    // $ProgressPreference (and -ProgressAction) are applied by WriteProgress itself, in the caller's scope.
    // CI runners (GitHub Actions, Azure DevOps, …) render progress as log noise, so none is written there.
    private static bool ProgressEnabled()
    {
        var ci = Environment.GetEnvironmentVariable("CI");
        return !(string.Equals(ci, "true", StringComparison.OrdinalIgnoreCase) || ci == "1" || Environment.GetEnvironmentVariable("TF_BUILD") is not null);
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing) _stopping.Dispose();
    }

    // Internal, as ProgressSink below. Messages are queued and written by Run on the pipeline thread: WriteVerbose and
    // WriteDebug may only be called there.
    internal sealed class RequestTraceSink(AsyncCmdlet owner, bool verbose, bool debug) : IRequestTraceSink
    {
        public bool DebugEnabled => debug;

        public void Request(RequestRecord request)
        {
            if (!verbose) return;
            var text = request.ToString();
            owner.Post(() => owner.WriteVerbose(text));
        }

        public void Debug(string source, string message)
        {
            if (!debug) return;
            var text = source + ": " + message;
            owner.Post(() => owner.WriteDebug(text));
        }
    }

    // Internal: a public type implementing an engine interface would make PowerShell load the engine
    // while it scans the module's exported types, before the dependency loader is in place.
    internal sealed class ProgressSink<T> : IProgress<T> where T : class
    {
        private static readonly long Interval = Stopwatch.Frequency / 4;
        private readonly AsyncCmdlet _owner;
        private readonly int _activityId;
        private readonly bool _enabled;
        private readonly Func<T, (string Activity, string Status, int Percent)> _describe;
        private long _last;
        private T? _latest;

        internal ProgressSink(AsyncCmdlet owner, int activityId, bool enabled, Func<T, (string Activity, string Status, int Percent)> describe)
        {
            _owner = owner;
            _activityId = activityId;
            _enabled = enabled;
            _describe = describe;
        }

        /// <summary>The last value reported, kept even when progress is off; null before the first.</summary>
        public T? Latest => _latest;

        public void Report(T value)
        {
            _latest = value;
            if (!_enabled) return;
            var now = Stopwatch.GetTimestamp();
            var last = Interlocked.Read(ref _last);
            if ((last != 0 && now - last < Interval) || Interlocked.CompareExchange(ref _last, now, last) != last) return;
            var (activity, status, percent) = _describe(value);
            var record = new ProgressRecord(_activityId, activity, status) { PercentComplete = percent };
            _owner.Post(() => _owner.WriteProgress(record));
        }

        /// <summary>Ends the activity; call once the work is done (or failed).</summary>
        public void Complete()
        {
            if (!_enabled || _latest is not { } last) return;
            var record = new ProgressRecord(_activityId, _describe(last).Activity, "Done") { RecordType = ProgressRecordType.Completed };
            _owner.Post(() => _owner.WriteProgress(record));
        }
    }
}
