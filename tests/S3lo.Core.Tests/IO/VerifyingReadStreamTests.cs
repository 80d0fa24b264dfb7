using S3lo.Core.IO;
using S3lo.Core.Oci;

namespace S3lo.Core.Tests.IO;

public sealed class VerifyingReadStreamTests
{
    private static byte[] Bytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Reads in 64 KiB steps, as an HTTP client copies a body; returns what was handed out before the stream threw.</summary>
    private static async Task<(long HandedOut, S3loException? Error)> CopyAsync(Stream stream)
    {
        var buffer = new byte[64 << 10];
        long total = 0;
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0) total += n;
            return (total, null);
        }
        catch (S3loException e)
        {
            return (total, e);
        }
    }

    // A store sending the bytes as one request of that Content-Length must never deliver a wrong body whole: the server
    // would then keep it. So the read that reaches the stated size throws instead of handing out its bytes.
    [Theory]
    [InlineData(1)]
    [InlineData(64 << 10)]
    [InlineData(1_000_003)]
    public async Task Wrong_bytes_of_the_stated_size_fail_before_the_last_of_them_is_handed_out(int length)
    {
        var data = Bytes(length, 1);
        await using var stream = new VerifyingReadStream(new MemoryStream(data), Digest.Compute(Bytes(length, 2)), length, "blob");
        var (handedOut, error) = await CopyAsync(stream);
        Assert.Equal(ErrorIds.DigestMismatch, error?.ErrorId);
        Assert.True(handedOut < length, $"{handedOut} of {length} bytes were handed out");
    }

    [Fact]
    public async Task Bytes_of_the_stated_size_that_go_on_are_the_wrong_size_whether_or_not_their_start_matches()
    {
        var data = Bytes(5000, 3);
        await using var startMatches = new VerifyingReadStream(new MemoryStream(data), Digest.Compute(data.AsSpan(0, 4000)), 4000, "blob");
        Assert.Equal(ErrorIds.SizeMismatch, (await CopyAsync(startMatches)).Error?.ErrorId);
        await using var wholeMatches = new VerifyingReadStream(new MemoryStream(data), Digest.Compute(data), 4000, "blob");
        Assert.Equal(ErrorIds.SizeMismatch, (await CopyAsync(wholeMatches)).Error?.ErrorId);
    }

    [Fact]
    public async Task Right_bytes_are_handed_out_whole_and_the_end_reads_as_zero()
    {
        var data = Bytes(300_000, 4);
        await using var stream = new VerifyingReadStream(new MemoryStream(data), Digest.Compute(data), data.Length, "blob");
        Assert.Equal((data.Length, (S3loException?)null), await CopyAsync(stream));
        await stream.DrainAndVerifyAsync(default);
        Assert.Equal(0, await stream.ReadAsync(new byte[10]));
    }

    [Fact]
    public async Task A_restart_reads_and_checks_the_bytes_again_from_the_first()
    {
        var data = Bytes(500_000, 5);
        var inner = new MemoryStream();
        inner.Write(Bytes(100, 6));
        inner.Write(data);
        inner.Position = 100;
        await using var stream = new VerifyingReadStream(inner, Digest.Compute(data), data.Length, "blob");
        Assert.True(stream.CanRestart);
        await stream.ReadAtLeastAsync(new byte[200_000], 200_000);
        stream.Restart();
        var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        Assert.Equal(data, copy.ToArray());
        // After a whole, matching read, a restart still checks again.
        stream.Restart();
        Assert.Equal((data.Length, (S3loException?)null), await CopyAsync(stream));
    }

    [Fact]
    public void A_stream_over_bytes_that_cannot_be_sought_cannot_restart()
    {
        var data = Bytes(100, 7);
        using var stream = new VerifyingReadStream(new VerifyingReadStream(new MemoryStream(data), Digest.Compute(data), 100, "inner"),
            Digest.Compute(data), 100, "blob");
        Assert.False(stream.CanRestart);
        Assert.Throws<NotSupportedException>(stream.Restart);
    }
}
