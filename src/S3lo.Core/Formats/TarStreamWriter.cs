using System.Text;

namespace S3lo.Core.Formats;

/// <summary>
/// Writes a tar archive of regular files in one forward pass. System.Formats.Tar's TarWriter is not used for
/// blobs: given a non-seekable entry stream it seeks back in the archive to patch the header, and then cannot
/// write sizes of 8 GiB or more (its PAX size record is written before the data). Layers can be that large and
/// their size is known up front, so a ustar header with a base-256 size field (read by GNU tar, Go's archive/tar
/// and .NET) is all that is needed, and the output never has to be seekable.
/// </summary>
internal sealed class TarStreamWriter(Stream output)
{
    private const int BlockSize = 512;
    private const long MaxOctalSize = (1L << 33) - 1;
    private static readonly byte[] Zeros = new byte[BlockSize * 2];

    /// <summary>Bytes written so far.</summary>
    public long Position { get; private set; }

    /// <summary>Writes a member of <paramref name="size"/> bytes from <paramref name="content"/>, which must yield exactly that many.
    /// If that fails and the output is seekable, the archive is cut back to where the member began, so it can be retried.</summary>
    /// <returns>The offset in the archive where the member's data starts.</returns>
    public async Task<long> WriteFileAsync(string name, long size, Stream content, CancellationToken cancellationToken)
    {
        var start = Position;
        try
        {
            await WriteAsync(Header(name, size), cancellationToken).ConfigureAwait(false);
            var buffer = new byte[81920];
            var remaining = size;
            while (remaining > 0)
            {
                var read = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false);
                if (read == 0) throw SizeMismatch(name, size, size - remaining);
                await WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                remaining -= read;
            }
            // Reading to the end also lets a verifying stream check the digest before the member counts as written.
            if (await content.ReadAsync(buffer.AsMemory(0, 1), cancellationToken).ConfigureAwait(false) != 0)
                throw SizeMismatch(name, size, size + 1);
            await WriteAsync(Zeros.AsMemory(0, Padding(size)), cancellationToken).ConfigureAwait(false);
            return start + BlockSize;
        }
        catch when (output.CanSeek)
        {
            output.SetLength(start);
            output.Position = start;
            Position = start;
            throw;
        }
    }

    public Task<long> WriteFileAsync(string name, byte[] content, CancellationToken cancellationToken)
        => WriteFileAsync(name, content.Length, new MemoryStream(content, writable: false), cancellationToken);

    /// <summary>Writes the two zero blocks that end an archive.</summary>
    public Task FinishAsync(CancellationToken cancellationToken) => WriteAsync(Zeros, cancellationToken);

    private async Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await output.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        Position += data.Length;
    }

    private static int Padding(long size) => (int)((BlockSize - size % BlockSize) % BlockSize);

    private static byte[] Header(string name, long size)
    {
        var header = new byte[BlockSize];
        var nameBytes = Encoding.UTF8.GetBytes(name);
        if (nameBytes.Length > 100) throw new ArgumentException($"The tar member name '{name}' is longer than 100 bytes.", nameof(name));
        nameBytes.CopyTo(header, 0);
        Octal(header.AsSpan(100, 8), Convert.ToInt64("644", 8));
        Octal(header.AsSpan(108, 8), 0);
        Octal(header.AsSpan(116, 8), 0);
        if (size <= MaxOctalSize) Octal(header.AsSpan(124, 12), size);
        else BaseTwoFiftySix(header.AsSpan(124, 12), size);
        Octal(header.AsSpan(136, 12), 0);
        header[156] = (byte)'0';
        "ustar\0"u8.CopyTo(header.AsSpan(257));
        "00"u8.CopyTo(header.AsSpan(263));
        // The checksum is computed with its own field read as spaces.
        header.AsSpan(148, 8).Fill((byte)' ');
        var checksum = header.Sum(b => (int)b);
        Octal(header.AsSpan(148, 7), checksum);
        return header;
    }

    /// <summary>Zero-padded octal digits followed by a NUL, filling the field.</summary>
    private static void Octal(Span<byte> field, long value)
    {
        var digits = Convert.ToString(value, 8).PadLeft(field.Length - 1, '0');
        Encoding.ASCII.GetBytes(digits, field);
        field[^1] = 0;
    }

    private static void BaseTwoFiftySix(Span<byte> field, long value)
    {
        field.Clear();
        field[0] = 0x80;
        for (var i = field.Length - 1; i > 0 && value > 0; i--, value >>= 8) field[i] = (byte)value;
    }

    private static S3loException SizeMismatch(string name, long expected, long actual)
        => new(ErrorIds.SizeMismatch, S3loErrorKind.InvalidData,
            $"The content for '{name}' has {(actual > expected ? "more than " + expected : actual.ToString())} bytes, but {expected} were announced.", name);
}
