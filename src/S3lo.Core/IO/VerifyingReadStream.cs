using System.Security.Cryptography;
using S3lo.Core.Oci;

namespace S3lo.Core.IO;

/// <summary>
/// A read-only pass-through stream that hashes what is read and, when the inner stream ends, checks the
/// byte count and SHA-256 against what was expected. Readers therefore never see the end of a stream
/// whose bytes do not match their digest: the final read throws <c>DigestMismatch</c> or <c>SizeMismatch</c> instead.
/// When the size is known, the read that reaches it checks the digest before it hands out its bytes, so a reader that
/// sends them on (one HTTP request with that Content-Length) never delivers a wrong body whole.
/// Once the end has been reached and checked, further reads return 0 without touching the inner stream, so a caller
/// can make sure of the check after a reader that may or may not have read to the end (and closed it).
/// </summary>
public sealed class VerifyingReadStream : ReadOnlyStream
{
    private readonly Stream _inner;
    private readonly Digest _expected;
    private readonly long _expectedSize;
    private readonly string _what;
    private readonly bool _leaveOpen;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly long _start;
    private long _read;
    // The bytes read so far matched: all of them, at the stated size.
    private bool _matched;
    private bool _verified;
    private bool _disposed;

    /// <param name="expectedSize">The expected length, or -1 when only the digest is known.</param>
    /// <param name="what">How errors name the content, e.g. "blob sha256:… of app:v1".</param>
    public VerifyingReadStream(Stream inner, Digest expected, long expectedSize, string what, bool leaveOpen = false)
    {
        _inner = inner;
        _expected = expected;
        _expectedSize = expectedSize;
        _what = what;
        _leaveOpen = leaveOpen;
        _start = inner.CanSeek ? inner.Position : -1;
    }

    /// <summary>Whether <see cref="Restart"/> can go back to the first byte: the inner stream seeks.</summary>
    public bool CanRestart => _start >= 0 && !_disposed;

    /// <summary>
    /// Starts over from the first byte, hash and count reset, for a store that sends the bytes again after an attempt
    /// that failed on the way (a connection reset mid-body); <see cref="CanRestart"/> must be true.
    /// </summary>
    public void Restart()
    {
        if (!CanRestart) throw new NotSupportedException($"The {_what} cannot be read again from its start.");
        _inner.Seek(_start, SeekOrigin.Begin);
        _hash.GetHashAndReset();
        _read = 0;
        _matched = false;
        _verified = false;
    }

    /// <summary>
    /// The stream a store writes <paramref name="content"/> through: <paramref name="content"/> itself when it already is a
    /// verifying stream for this digest and size that nothing has read from yet (the transfer engine opens every blob
    /// so), which then hashes the bytes once for both; otherwise a new one over it, leaving it open. A mismatch ends
    /// either the same way, so a store publishes only bytes that matched.
    /// </summary>
    public static Lease Over(Stream content, Digest digest, long size, string what)
        => content is VerifyingReadStream { _read: 0, _verified: false, _disposed: false } engine && engine._expected == digest && engine._expectedSize == size
            ? new Lease(engine, false)
            : new Lease(new VerifyingReadStream(content, digest, size, what, leaveOpen: true), true);

    /// <summary>A verifying stream, disposed with the lease only if the lease made it.</summary>
    public readonly struct Lease(VerifyingReadStream stream, bool owned) : IAsyncDisposable
    {
        public VerifyingReadStream Stream => stream;

        public ValueTask DisposeAsync() => owned ? stream.DisposeAsync() : ValueTask.CompletedTask;
    }

    public override long Length => _expectedSize >= 0 ? _expectedSize : throw new NotSupportedException();
    public override long Position { get => _read; set => throw new NotSupportedException(); }

    // An empty buffer reads nothing and says nothing about the end (tar readers ask for 0 bytes at the end of an entry).
    public override int Read(Span<byte> buffer)
    {
        if (_verified || buffer.IsEmpty) return 0;
        var n = _inner.Read(buffer);
        if (Account(buffer[..n])) throw MismatchAtSize(_inner.Read(stackalloc byte[1]));
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_verified || buffer.IsEmpty) return 0;
        var n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (Account(buffer.Span[..n])) throw MismatchAtSize(await _inner.ReadAsync(new byte[1], cancellationToken).ConfigureAwait(false));
        return n;
    }

    /// <summary>Counts and hashes what was read; true when this read reached the stated size with bytes that do not match.</summary>
    private bool Account(ReadOnlySpan<byte> data)
    {
        if (data.Length == 0)
        {
            Verify();
            return false;
        }
        _read += data.Length;
        if (_expectedSize >= 0 && _read > _expectedSize) throw Longer();
        _hash.AppendData(data);
        if (_read != _expectedSize) return false;
        Span<byte> hash = stackalloc byte[32];
        _hash.GetCurrentHash(hash);
        _matched = Digest.FromHash(hash) == _expected;
        return !_matched;
    }

    // A wrong body of the stated size is a wrong digest, unless the inner stream goes on: then it is the wrong size, as at its end.
    private S3loException MismatchAtSize(int more)
    {
        _verified = true;
        return more > 0 ? Longer() : Mismatch(Digest.FromHash(_hash.GetHashAndReset()));
    }

    private S3loException Longer() => new(ErrorIds.SizeMismatch, S3loErrorKind.InvalidData,
        $"The {_what} is longer than the {_expectedSize} bytes its descriptor states.", _expected.ToString());

    private S3loException Mismatch(Digest actual) => new(ErrorIds.DigestMismatch, S3loErrorKind.InvalidData,
        $"The {_what} does not match its digest: expected {_expected}, got {actual}.", _expected.ToString());

    private void Verify()
    {
        if (_verified) return;
        _verified = true;
        if (_expectedSize >= 0 && _read != _expectedSize)
            throw new S3loException(ErrorIds.SizeMismatch, S3loErrorKind.InvalidData,
                $"The {_what} has {_read} bytes, but its descriptor states {_expectedSize}.", _expected.ToString());
        if (_matched) return;
        var actual = Digest.FromHash(_hash.GetHashAndReset());
        if (actual != _expected) throw Mismatch(actual);
    }

    /// <summary>Reads whatever is left and verifies it; for callers that stop reading at a known length.</summary>
    public async Task DrainAndVerifyAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        while (await ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0) { }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _hash.Dispose();
            if (!_leaveOpen) _inner.Dispose();
        }
        base.Dispose(disposing);
    }

    // Not base.DisposeAsync(): that would call Dispose(true) and release everything a second time.
    public override async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            _hash.Dispose();
            if (!_leaveOpen) await _inner.DisposeAsync().ConfigureAwait(false);
        }
        GC.SuppressFinalize(this);
    }
}
