using System.Formats.Tar;

namespace S3lo.Core.Formats;

/// <summary>
/// The members of a tar archive, indexed once by name. Reading a member opens its own stream over the
/// member's byte range, so several blobs can be read at once and nothing is extracted to disk.
/// </summary>
internal sealed class TarFileSet : IFileSet
{
    private const int MaxLinkHops = 16;
    private const int BlockSize = 512;

    private readonly string _archivePath;
    private readonly Dictionary<string, Member> _members;

    private TarFileSet(string archivePath, Dictionary<string, Member> members)
    {
        _archivePath = archivePath;
        _members = members;
    }

    public string Description => _archivePath;

    /// <summary>Indexes the archive at <paramref name="archivePath"/>. A file that does not even start like a tar
    /// is <c>UnsupportedSource</c>; one that breaks off or is corrupt later is <c>InvalidArchive</c>.</summary>
    public static TarFileSet Open(string archivePath)
    {
        using var file = new FileStream(archivePath, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
        var hasTarMagic = SniffFormat(file, archivePath);
        var members = new Dictionary<string, Member>(StringComparer.Ordinal);
        using var reader = new TarReader(file, leaveOpen: true);
        var entries = 0;
        long endOfLastEntry = 0;
        while (true)
        {
            TarEntry? entry;
            try
            {
                entry = reader.GetNextEntry(copyData: false);
            }
            catch (Exception e) when (TarReading.IsMalformed(e))
            {
                if (entries == 0 && !hasTarMagic)
                    throw new S3loException(ErrorIds.UnsupportedSource, S3loErrorKind.InvalidArgument,
                        $"{archivePath} is not a tar archive, an OCI image layout or a docker-save archive.", archivePath, e);
                throw Corrupt(archivePath, $"entry {entries + 1} cannot be read ({e.Message})", e);
            }
            if (entry is null) break;
            entries++;
            // On a seekable archive stream TarReader does not read the data: it seeks past it and its block padding,
            // leaving the stream at the next header. The data therefore starts one padded length back. (TarEntry.DataOffset
            // says so directly, but only from .NET 9 on; the tests pin this for PAX, GNU and ustar headers.)
            var length = entry.Length;
            endOfLastEntry = file.Position;
            var offset = endOfLastEntry - RoundUpToBlock(length);
            if (endOfLastEntry > file.Length)
                throw Corrupt(archivePath, $"the entry '{entry.Name}' needs {length} bytes but the file ends first");

            if (entry.EntryType is TarEntryType.GlobalExtendedAttributes) continue;
            var name = ArchivePath.Normalize(entry.Name, archivePath);
            if (name.Length == 0) continue;
            switch (entry.EntryType)
            {
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    members[name] = new Member(offset, length, null);
                    break;
                case TarEntryType.SymbolicLink:
                    members[name] = new Member(0, 0, ArchivePath.ResolveSymlink(name, entry.LinkName, archivePath));
                    break;
                case TarEntryType.HardLink:
                    // A hard link names another member by its full archive path, not relative to itself.
                    members[name] = new Member(0, 0, ArchivePath.Normalize(entry.LinkName, archivePath));
                    break;
            }
        }
        // Every tar writer ends an archive with zero blocks; without one the file was cut at an entry boundary.
        if (entries > 0 && file.Length - endOfLastEntry < BlockSize)
            throw Corrupt(archivePath, "it ends without the end-of-archive marker");
        return new TarFileSet(archivePath, members);
    }

    public long? TryGetLength(string path) => TryResolve(path) is { } member ? member.Length : null;

    public Stream? TryOpenRead(string path)
        => TryResolve(path) is { } member ? new FileRangeStream(_archivePath, member.Offset, member.Length) : null;

    private Member? TryResolve(string path)
    {
        var name = ArchivePath.Normalize(path, _archivePath);
        for (var hop = 0; hop < MaxLinkHops; hop++)
        {
            if (!_members.TryGetValue(name, out var member)) return null;
            if (member.LinkTarget is null) return member;
            name = member.LinkTarget;
        }
        throw Corrupt(_archivePath, $"the links starting at '{path}' form a loop");
    }

    /// <summary>Rejects compressed files with a useful message, and tells whether the first header carries the ustar/GNU magic:
    /// a file that does is a damaged tar, not some other kind of file.</summary>
    private static bool SniffFormat(FileStream file, string archivePath)
    {
        Span<byte> start = stackalloc byte[BlockSize];
        var n = file.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        file.Position = 0;
        if (LayerCompressions.Detect(start[..n]) is not LayerCompression.None)
            throw new S3loException(ErrorIds.UnsupportedSource, S3loErrorKind.InvalidArgument,
                $"{archivePath} is a compressed file; decompress it first (S3lo reads uncompressed tar archives, whose members it can read in place).", archivePath);
        return n == BlockSize && start[257..262].SequenceEqual("ustar"u8);
    }

    private static long RoundUpToBlock(long length) => (length + BlockSize - 1) / BlockSize * BlockSize;

    private static S3loException Corrupt(string archivePath, string why, Exception? inner = null)
        => new(ErrorIds.InvalidArchive, S3loErrorKind.InvalidData, $"The archive {archivePath} is truncated or corrupt: {why}.", archivePath, inner);

    private readonly record struct Member(long Offset, long Length, string? LinkTarget);
}

/// <summary>A read-only window onto one byte range of a file, with its own file handle.</summary>
internal sealed class FileRangeStream : Stream
{
    private readonly FileStream _file;
    private readonly long _start;
    private readonly long _length;
    private long _position;

    public FileRangeStream(string path, long start, long length)
    {
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
        _start = start;
        _length = length;
        _file.Position = start;
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var wanted = Remaining(buffer.Length);
        if (wanted == 0) return 0;
        return Advance(_file.Read(buffer[..wanted]));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var wanted = Remaining(buffer.Length);
        if (wanted == 0) return 0;
        return Advance(await _file.ReadAsync(buffer[..wanted], cancellationToken).ConfigureAwait(false));
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => _length + offset,
        };
        ArgumentOutOfRangeException.ThrowIfNegative(target, nameof(offset));
        _position = target;
        _file.Position = _start + target;
        return target;
    }

    private int Remaining(int bufferLength) => (int)Math.Clamp(_length - _position, 0, bufferLength);

    private int Advance(int read)
    {
        // The archive was checked to be long enough when it was indexed; a short read means it shrank since.
        if (read == 0)
            throw new S3loException(ErrorIds.InvalidArchive, S3loErrorKind.InvalidData,
                $"The archive {_file.Name} ended in the middle of a member; was it changed while being read?", _file.Name);
        _position += read;
        return read;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _file.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _file.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
