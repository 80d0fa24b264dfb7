namespace S3lo.Core.IO;

/// <summary>A read-only pass-through stream that reports how many bytes went through it.</summary>
public sealed class CountingReadStream(Stream inner, Action<long> onRead) : ReadOnlyStream
{
    public override long Length => inner.Length;

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        if (n > 0) onRead(n);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (n > 0) onRead(n);
        return n;
    }
}
