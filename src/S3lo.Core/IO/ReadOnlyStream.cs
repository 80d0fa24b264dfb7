namespace S3lo.Core.IO;

/// <summary>The common part of S3lo's forward-only read streams: no seeking, no writing; the array overloads of
/// Read and ReadAsync go to the span and memory ones, which a derived stream implements.</summary>
public abstract class ReadOnlyStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public abstract override int Read(Span<byte> buffer);

    public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>A synchronous read for a stream whose reading is asynchronous at heart: it waits for
    /// <see cref="ReadAsync(Memory{byte}, CancellationToken)"/>.</summary>
    protected int ReadBlocking(Span<byte> buffer)
    {
        var bytes = new byte[buffer.Length];
        var n = ReadAsync(bytes.AsMemory(), CancellationToken.None).AsTask().GetAwaiter().GetResult();
        bytes.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
