namespace S3lo.Core.IO;

/// <summary>
/// The body of a blob sent in one request: the bytes of a <see cref="VerifyingReadStream"/> that can start over, seen by
/// the SDK as a seekable stream of known length, so it sets Content-Length and its own retry goes back to the first byte
/// (<see cref="VerifyingReadStream.Restart"/>, the source read again) instead of giving up. Only position 0 can be sought.
/// <para>
/// A digest or size mismatch is final: it is kept in <see cref="Failure"/> and thrown again by any further read or seek,
/// so a retry does not read a wrong blob once more, and the store reports it as it is rather than as the SDK wraps it.
/// <paramref name="progress"/> takes the bytes as the SDK reads them, and a failed attempt's count back when it starts over.
/// </para>
/// </summary>
public sealed class UploadBody(VerifyingReadStream content, long length, Action<long>? progress) : Stream
{
    private long _position;

    /// <summary>The digest or size mismatch the content ended with, if it did.</summary>
    public S3loException? Failure { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };
        if (target == _position) return _position;
        if (target != 0) throw new NotSupportedException("An upload body goes back to its first byte only.");
        if (Failure is not null) throw Failure;
        content.Restart();
        progress?.Invoke(-_position);
        _position = 0;
        return 0;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (Failure is not null) throw Failure;
        try
        {
            return Advance(content.Read(buffer));
        }
        catch (S3loException e)
        {
            Failure = e;
            throw;
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Failure is not null) throw Failure;
        try
        {
            return Advance(await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));
        }
        catch (S3loException e)
        {
            Failure = e;
            throw;
        }
    }

    private int Advance(int n)
    {
        _position += n;
        if (n > 0) progress?.Invoke(n);
        return n;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
