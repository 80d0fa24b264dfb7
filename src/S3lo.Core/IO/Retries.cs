namespace S3lo.Core.IO;

/// <summary>
/// How many requests one operation may make in all and how long it waits between them: the first retry after
/// <see cref="FirstDelay"/>, each further one twice as long (with jitter), up to <see cref="MaxDelay"/>.
/// </summary>
public sealed record RetrySchedule(int MaxAttempts, TimeSpan FirstDelay, TimeSpan MaxDelay)
{
    /// <summary>What the stores use on top of their SDK's own retries, for the failures those do not retry.</summary>
    public static RetrySchedule Store { get; } = new(5, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5));

    public Task DelayAsync(int attempt, CancellationToken cancellationToken, TimeSpan? atLeast = null)
    {
        var backoff = FirstDelay * Math.Pow(2, attempt - 1) * (0.8 + 0.4 * Random.Shared.NextDouble());
        var delay = atLeast is { } floor && floor > backoff ? floor : backoff;
        return Task.Delay(delay > MaxDelay ? MaxDelay : delay, cancellationToken);
    }

    /// <summary>Runs <paramref name="call"/> again, whole, while it fails with what <paramref name="isTransient"/>
    /// accepts and attempts are left; the last failure is rethrown as it is.</summary>
    public async Task<T> RunAsync<T>(Func<Task<T>> call, Func<Exception, bool> isTransient, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (Exception e) when (attempt < MaxAttempts && !cancellationToken.IsCancellationRequested && isTransient(e))
            {
                await DelayAsync(attempt, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>The requests one operation has made against its <see cref="RetrySchedule.MaxAttempts"/>, shared by every
/// retry loop the operation passes through, so that loops inside loops cannot multiply the requests.</summary>
public sealed class AttemptBudget(RetrySchedule policy)
{
    private int _used;

    public RetrySchedule Policy => policy;

    /// <summary>Requests made so far.</summary>
    public int Used => Volatile.Read(ref _used);

    public bool CanRetry => Used < policy.MaxAttempts;

    /// <summary>Counts a request about to be made.</summary>
    public void Take() => Interlocked.Increment(ref _used);

    /// <summary>Un-counts a request that was answered with an authentication challenge: answering it is part of the same attempt.</summary>
    public void Forgive() => Interlocked.Decrement(ref _used);

    public Task DelayAsync(CancellationToken cancellationToken, TimeSpan? atLeast = null) => policy.DelayAsync(Math.Max(1, Used), cancellationToken, atLeast);
}

/// <summary>
/// The body of an object read over the network that survives its connection dropping or its body ending early: it
/// opens the object again from the byte reached (a ranged read, by <see cref="OpenAt"/>), after a backoff, within the
/// operation's <see cref="AttemptBudget"/>. When the budget is spent it throws <c>TransferInterrupted</c>, naming the
/// object and how many bytes arrived. The bytes themselves are checked by whoever reads them (a
/// <see cref="VerifyingReadStream"/>): this stream only makes sure none is skipped or read twice.
/// </summary>
public sealed class ResumingReadStream : ReadOnlyStream
{
    /// <summary>Opens the object from <paramref name="offset"/>; the stream returned yields the bytes from there on. It counts
    /// the requests it makes in the stream's budget.</summary>
    public delegate Task<Stream> OpenAt(long offset, CancellationToken cancellationToken);

    private readonly OpenAt _open;
    private readonly Func<Exception, CancellationToken, bool> _isTransient;
    private readonly Func<Exception, S3loException?> _translate;
    private readonly AttemptBudget _budget;
    private readonly string _what;
    private readonly object? _target;
    private Stream? _body;
    private long _position;

    /// <param name="first">The body of the first request, already counted in <paramref name="budget"/>.</param>
    /// <param name="length">The object's length, or -1 when unknown: a body that ends before it is resumed too.</param>
    /// <param name="isTransient">Whether a failure of a read, or of a re-open, is worth another request.</param>
    /// <param name="translate">The store's own translation of any other failure of a read into an S3loException.</param>
    /// <param name="what">How errors name the object, e.g. "'blobs/sha256/…' in s3://bucket".</param>
    public ResumingReadStream(Stream first, long length, OpenAt open, Func<Exception, CancellationToken, bool> isTransient,
        Func<Exception, S3loException?> translate, AttemptBudget budget, string what, object? target)
    {
        _translate = translate;
        _body = first;
        Length = length;
        _open = open;
        _isTransient = isTransient;
        _budget = budget;
        _what = what;
        _target = target;
    }

    public override long Length { get; }
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    // Re-opening is asynchronous; a synchronous reader waits for it.
    public override int Read(Span<byte> buffer) => ReadBlocking(buffer);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.Length == 0 || (Length >= 0 && _position >= Length)) return 0;
        Exception? last = null;
        while (true)
        {
            try
            {
                _body ??= await _open(_position, cancellationToken).ConfigureAwait(false);
                var n = await _body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (n > 0 || Length < 0)
                {
                    _position += n;
                    return n;
                }
                last = new EndOfStreamException($"The body ended after {_position} of {Length} bytes.");
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && _isTransient(e, cancellationToken))
            {
                last = e;
            }
            catch (Exception e) when (e is not S3loException && _translate(e) is { } translated)
            {
                throw translated;
            }
            await CloseBodyAsync().ConfigureAwait(false);
            if (!_budget.CanRetry) throw Interrupted(last);
            await _budget.DelayAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private S3loException Interrupted(Exception cause)
        => new(ErrorIds.TransferInterrupted, S3loErrorKind.ReadError,
            $"Reading {_what} was interrupted {_budget.Used} time(s) and given up after {_position}" +
            $"{(Length >= 0 ? $" of {Length}" : "")} bytes: {cause.Message.Split('\n', 2)[0].Trim()}", _target, cause);

    private async ValueTask CloseBodyAsync()
    {
        if (_body is null) return;
        try
        {
            await _body.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A body whose connection broke may fail to close as well; it is dropped either way.
        }
        _body = null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _body?.Dispose();
        _body = null;
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await CloseBodyAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }
}
