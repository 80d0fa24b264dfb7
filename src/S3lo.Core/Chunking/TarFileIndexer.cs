using System.Text;

namespace S3lo.Core.Chunking;

/// <summary>One entry of a layer's file index: a regular file's data span in the raw tar, or a link's target.</summary>
public sealed record IndexedFile(string Path, long? Offset, long? Size, string? Link);

/// <summary>
/// Lists the files of a tar as its bytes stream past, without holding more than one header: regular files with the
/// offset of their data in the raw tar and their size, symbolic and hard links with their target (docs/format.md,
/// "File indexes"). ustar, pax (path, linkpath, size) and GNU long names are understood. A header whose checksum is
/// wrong, or a stream that ends inside an entry, is not a tar: <c>InvalidLayer</c>.
/// </summary>
internal sealed class TarFileIndexer(string what)
{
    private const int Block = 512;

    private readonly List<IndexedFile> _files = [];
    private readonly byte[] _header = new byte[Block];
    private int _headerFill;
    private long _position;
    private long _skip;
    private MemoryStream? _extension;
    private long _extensionLeft;
    private char _extensionType;
    private Dictionary<string, string>? _pax;
    private string? _longName;
    private string? _longLink;
    private bool _ended;

    public IReadOnlyList<IndexedFile> Files => _files;

    public void Feed(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty && !_ended)
        {
            if (_extension is not null)
            {
                var n = (int)Math.Min(_extensionLeft, data.Length);
                _extension.Write(data[..n]);
                Advance(ref data, n);
                _extensionLeft -= n;
                if (_extensionLeft == 0) FinishExtension();
            }
            else if (_skip > 0)
            {
                var n = (int)Math.Min(_skip, data.Length);
                Advance(ref data, n);
                _skip -= n;
            }
            else
            {
                var n = Math.Min(Block - _headerFill, data.Length);
                data[..n].CopyTo(_header.AsSpan(_headerFill));
                _headerFill += n;
                Advance(ref data, n);
                if (_headerFill < Block) continue;
                _headerFill = 0;
                ReadHeader();
            }
        }
    }

    /// <summary>The stream ended: it must end between entries (after the end-of-archive blocks, or at a header boundary).</summary>
    public void Complete()
    {
        if (_ended) return;
        if (_headerFill != 0 || _skip > 0 || _extension is not null || _files.Count == 0 && _position == 0)
            throw NotATar("it ends inside an entry");
    }

    private void Advance(ref ReadOnlySpan<byte> data, int n)
    {
        data = data[n..];
        _position += n;
    }

    private void ReadHeader()
    {
        if (_header.AsSpan().IndexOfAnyExcept((byte)0) < 0)
        {
            _ended = true;
            return;
        }
        if (!ChecksumMatches()) throw NotATar($"the header at offset {_position - Block} has a wrong checksum");
        var type = (char)_header[156];
        var size = ReadNumber(124, 12);
        var padded = (size + Block - 1) / Block * Block;
        var dataOffset = _position;
        switch (type)
        {
            case 'x' or 'g' or 'L' or 'K':
                if (size > 1 << 20) throw NotATar($"the extended header at offset {dataOffset - Block} is {size} bytes");
                _extensionType = type;
                _extension = new MemoryStream((int)size);
                _extensionLeft = size;
                _skip = padded - size;
                if (size == 0) FinishExtension();
                return;
        }

        var name = _longName ?? Pax("path") ?? JoinUstarName();
        var link = _longLink ?? Pax("linkpath") ?? Text(157, 100);
        if (Pax("size") is { } paxSize && long.TryParse(paxSize, out var s)) size = s;
        padded = (size + Block - 1) / Block * Block;
        // A hard link's size field is 0 in practice; whatever it says, no data follows it.
        _skip = type is '1' or '2' ? 0 : padded;
        _pax = null;
        _longName = _longLink = null;

        var path = Normalize(name);
        if (path.Length == 0) return;
        switch (type)
        {
            case '0' or '\0' or '7':
                _files.Add(new IndexedFile(path, dataOffset, size, null));
                break;
            case '1' or '2':
                _files.Add(new IndexedFile(path, null, null, link));
                break;
        }
    }

    private void FinishExtension()
    {
        var bytes = _extension!.ToArray();
        _extension = null;
        switch (_extensionType)
        {
            case 'x':
                _pax = ParsePax(bytes);
                break;
            case 'L':
                _longName = Encoding.UTF8.GetString(bytes).TrimEnd('\0');
                break;
            case 'K':
                _longLink = Encoding.UTF8.GetString(bytes).TrimEnd('\0');
                break;
        }
    }

    private Dictionary<string, string> ParsePax(byte[] bytes)
    {
        // Records are "<length> <key>=<value>\n", the length counting the whole record.
        var records = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (i < bytes.Length)
        {
            var space = Array.IndexOf(bytes, (byte)' ', i);
            if (space < 0 || !int.TryParse(Encoding.ASCII.GetString(bytes, i, space - i), out var length) || length <= 0 || i + length > bytes.Length)
                throw NotATar("a pax header is malformed");
            var record = Encoding.UTF8.GetString(bytes, space + 1, i + length - space - 2);
            var eq = record.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0) records[record[..eq]] = record[(eq + 1)..];
            i += length;
        }
        return records;
    }

    private string? Pax(string key) => _pax is not null && _pax.TryGetValue(key, out var value) ? value : null;

    private string JoinUstarName()
    {
        var name = Text(0, 100);
        // Only POSIX ustar has a prefix field there; GNU tar keeps other data in those bytes.
        var ustar = _header.AsSpan(257, 6).SequenceEqual("ustar\0"u8);
        var prefix = ustar ? Text(345, 155) : "";
        return prefix.Length > 0 ? prefix + "/" + name : name;
    }

    private static string Normalize(string name)
    {
        while (name.StartsWith("./", StringComparison.Ordinal)) name = name[2..];
        name = name.TrimStart('/');
        return name is "." ? "" : name;
    }

    private string Text(int offset, int length)
    {
        var field = _header.AsSpan(offset, length);
        var end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }

    private long ReadNumber(int offset, int length)
    {
        var field = _header.AsSpan(offset, length);
        if ((field[0] & 0x80) != 0)
        {
            // GNU base-256: big-endian, the first byte's top bit set.
            long value = field[0] & 0x7F;
            foreach (var b in field[1..]) value = checked((value << 8) | b);
            return value;
        }
        long octal = 0;
        var any = false;
        foreach (var b in field)
        {
            if (b is (byte)' ' or 0)
            {
                if (any) break;
                continue;
            }
            if (b is < (byte)'0' or > (byte)'7') throw NotATar($"the header at offset {_position - Block} has a malformed number");
            octal = checked(octal * 8 + (b - '0'));
            any = true;
        }
        return octal;
    }

    private bool ChecksumMatches()
    {
        long sum = 0;
        for (var i = 0; i < Block; i++) sum += i is >= 148 and < 156 ? ' ' : _header[i];
        return ReadNumber(148, 8) == sum;
    }

    private S3loException NotATar(string why)
        => new(ErrorIds.InvalidLayer, S3loErrorKind.InvalidData, $"The {what} is not a tar archive: {why}.", what);
}
