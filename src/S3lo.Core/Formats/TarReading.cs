namespace S3lo.Core.Formats;

/// <summary>How System.Formats.Tar's reader reports bytes that are not a tar it can read.</summary>
internal static class TarReading
{
    /// <summary>
    /// Whether <paramref name="e"/>, thrown while a <see cref="System.Formats.Tar.TarReader"/> read an archive, means its
    /// bytes are malformed: a bad header or number, an archive that breaks off, or a header claiming a size the reader
    /// refuses (a pax header of 8 GiB is an <see cref="InvalidOperationException"/>). A disposed stream is not one.
    /// </summary>
    public static bool IsMalformed(Exception e)
        => e is InvalidDataException or EndOfStreamException or FormatException or ArgumentException or OverflowException
            or InvalidOperationException and not ObjectDisposedException;
}
