namespace S3lo.Core.Transfer;

/// <summary>A progress report of a transfer, in bytes.</summary>
public sealed record TransferProgress(string Activity, string Status, long BytesDone, long BytesTotal)
{
    public int PercentComplete => BytesTotal <= 0 ? 100 : (int)Math.Clamp(BytesDone * 100 / BytesTotal, 0, 100);
}

/// <summary>Counts bytes from many concurrent writers and reports them through one <see cref="IProgress{T}"/>,
/// starting with a report of none of <paramref name="total"/> done when it is created.</summary>
internal sealed class ByteProgress
{
    private readonly IProgress<TransferProgress>? _sink;
    private readonly string _activity;
    private readonly string _status;
    private readonly long _total;
    private long _done;

    public ByteProgress(IProgress<TransferProgress>? sink, string activity, string status, long total)
    {
        _sink = sink;
        _activity = activity;
        _status = status;
        _total = total;
        sink?.Report(new TransferProgress(activity, status, 0, total));
    }

    public long Done => Interlocked.Read(ref _done);

    public void Add(long bytes)
    {
        var done = Interlocked.Add(ref _done, bytes);
        _sink?.Report(new TransferProgress(_activity, _status, done, _total));
    }
}

internal static class Parallel
{
    /// <summary>Runs <paramref name="body"/> over <paramref name="items"/> with at most <paramref name="limit"/> at once;
    /// the first failure cancels the rest and is the one rethrown.</summary>
    public static Task ForEachAsync<T>(IEnumerable<T> items, int limit, CancellationToken cancellationToken, Func<T, CancellationToken, ValueTask> body)
        => System.Threading.Tasks.Parallel.ForEachAsync(items,
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, limit), CancellationToken = cancellationToken }, body);
}
