using System.Net;
using S3lo.Core.Policy;

namespace S3lo.Core.IO;

/// <summary>
/// Fails a request that stops moving: no byte of its body taken by the connection, no answer, or no byte of the answer's
/// body for <c>idle</c>. A slow transfer that keeps moving is never cut off, however long it takes, which a whole-request
/// timeout (HttpClient's) cannot offer for multi-gigabyte blobs. A request that stalls before its answer fails as an
/// <see cref="HttpRequestException"/>, and an answer's body that stalls as an <see cref="IOException"/>, so callers retry
/// or resume them as they do a dropped connection. The caller's own cancellation is passed on as it is.
/// </summary>
internal sealed class IdleTimeoutHandler(TimeSpan idle, HttpMessageHandler inner) : DelegatingHandler(inner)
{
    /// <summary>The idle time of registry and S3 clients unless they are given another.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromMinutes(5);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        using (var watchdog = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            watchdog.CancelAfter(idle);
            if (request.Content is { } content) request.Content = new MovingContent(content, () => watchdog.CancelAfter(idle));
            try
            {
                response = await base.SendAsync(request, watchdog.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested && watchdog.IsCancellationRequested)
            {
                throw new HttpRequestException($"{request.RequestUri?.Authority} sent no answer for {PolicyDuration.Format(idle)}.", new TimeoutException(e.Message, e));
            }
            // Headers are in: from here only the body's reads count, each on its own clock.
            watchdog.CancelAfter(Timeout.InfiniteTimeSpan);
        }
        response.Content = new IdleBodyContent(response.Content, idle, request.RequestUri?.Authority);
        return response;
    }

    private static void CopyHeaders(HttpContent from, HttpContent to)
    {
        foreach (var (name, values) in from.Headers) to.Headers.TryAddWithoutValidation(name, values);
    }

    /// <summary>A request body that reports each write the connection takes from it.</summary>
    private sealed class MovingContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly Action _moved;

        public MovingContent(HttpContent inner, Action moved)
        {
            _inner = inner;
            _moved = moved;
            CopyHeaders(inner, this);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, default);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var reporting = new ReportingWriteStream(stream, _moved);
            await _inner.CopyToAsync(reporting, cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _inner.Headers.ContentLength ?? -1;
            return length >= 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _inner.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class ReportingWriteStream(Stream inner, Action moved) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            moved();
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            moved();
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        // The connection's stream is the caller's to close.
        protected override void Dispose(bool disposing) { }
        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>An answer's body whose every read must return within the idle time.</summary>
    private sealed class IdleBodyContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly TimeSpan _idle;
        private readonly string? _server;

        public IdleBodyContent(HttpContent inner, TimeSpan idle, string? server)
        {
            _inner = inner;
            _idle = idle;
            _server = server;
            CopyHeaders(inner, this);
        }

        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken)
            => new IdleReadStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), _idle, _server);

        protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(default);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, default);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var body = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
            await body.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _inner.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class IdleReadStream(Stream inner, TimeSpan idle, string? server) : ReadOnlyStream
    {
        public override long Length => inner.Length;

        public override int Read(Span<byte> buffer) => ReadBlocking(buffer);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            using var watchdog = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            watchdog.CancelAfter(idle);
            try
            {
                return await inner.ReadAsync(buffer, watchdog.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested && watchdog.IsCancellationRequested)
            {
                throw new IOException($"The answer of {server} stopped: no data for {PolicyDuration.Format(idle)}.", new TimeoutException(e.Message, e));
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
