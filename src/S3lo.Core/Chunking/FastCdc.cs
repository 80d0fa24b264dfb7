namespace S3lo.Core.Chunking;

/// <summary>
/// Where chunk_format 1 cuts a layer's uncompressed tar (docs/format.md, "Cutting chunks"): FastCDC with normalized
/// chunking, a SplitMix64 gear table, min 1 MiB, average 4 MiB, max 16 MiB. Byte for byte what s3lo cuts, so both
/// tools store an unchanged stretch of a layer as the same chunks.
/// </summary>
public static class FastCdc
{
    public const int MinSize = 1 << 20;
    public const int AverageSize = 4 << 20;
    public const int MaxSize = 16 << 20;

    /// <summary>The stricter mask, before the average size: cuts there are rarer.</summary>
    public const ulong MaskS = 0x14AA54AA54AA5000;

    /// <summary>The looser mask, after the average size.</summary>
    public const ulong MaskL = 0x1294A5294A529000;

    /// <summary>The gear table: 256 SplitMix64 values.</summary>
    public static IReadOnlyList<ulong> Gear => GearTable;

    private static readonly ulong[] GearTable = CreateGear();

    private static ulong[] CreateGear()
    {
        var gear = new ulong[256];
        var x = 0x9E3779B97F4A7C15UL;
        for (var i = 0; i < gear.Length; i++)
        {
            unchecked
            {
                x += 0x9E3779B97F4A7C15UL;
                var z = x;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
                gear[i] = z ^ (z >> 31);
            }
        }
        return gear;
    }

    /// <summary>
    /// The length of the chunk that starts at the beginning of <paramref name="data"/>, which must hold the rest of the
    /// stream or at least <see cref="MaxSize"/> bytes of it (a cut is never later than that).
    /// </summary>
    public static int NextCut(ReadOnlySpan<byte> data)
    {
        var n = data.Length;
        if (n <= MinSize) return n;
        var end = Math.Min(n, MaxSize);
        var mid = Math.Min(AverageSize, end);
        var gear = GearTable;
        ulong h = 0;
        var i = MinSize;
        unchecked
        {
            for (; i < mid; i++)
            {
                h = (h << 1) + gear[data[i]];
                if ((h & MaskS) == 0) return i + 1;
            }
            for (; i < end; i++)
            {
                h = (h << 1) + gear[data[i]];
                if ((h & MaskL) == 0) return i + 1;
            }
        }
        return end;
    }

    /// <summary>Where <see cref="FindCut"/> stopped in the chunk it looks at: positions before <see cref="Position"/> hold
    /// no cut, and <see cref="Hash"/> is the gear hash there.</summary>
    public struct CutScan
    {
        public int Position;
        public ulong Hash;

        public static CutScan Start => new() { Position = MinSize };
    }

    /// <summary>
    /// <see cref="NextCut"/> for a stream read in steps: <paramref name="data"/> is the first bytes of the rest of the stream
    /// (not necessarily all of it, nor <see cref="MaxSize"/> bytes), and <paramref name="scan"/> (from <see cref="CutScan.Start"/>)
    /// carries the scan from one call to the next, so each byte is hashed once. Returns the chunk's length when a cut lies
    /// within <paramref name="data"/> or it holds <see cref="MaxSize"/> bytes; 0 when the cut lies further on (read more) or
    /// the stream ends first (then the chunk is <paramref name="data"/>, as <see cref="NextCut"/> says). The same loop as
    /// <see cref="NextCut"/>, so the cuts are the same.
    /// </summary>
    public static int FindCut(ReadOnlySpan<byte> data, ref CutScan scan)
    {
        var n = data.Length;
        if (n >= MaxSize) n = MaxSize;
        if (n <= MinSize) return 0;
        var gear = GearTable;
        var h = scan.Hash;
        var i = scan.Position;
        var mid = Math.Min(AverageSize, n);
        unchecked
        {
            for (; i < mid; i++)
            {
                h = (h << 1) + gear[data[i]];
                if ((h & MaskS) == 0) return i + 1;
            }
            for (; i < n; i++)
            {
                h = (h << 1) + gear[data[i]];
                if ((h & MaskL) == 0) return i + 1;
            }
        }
        scan.Position = i;
        scan.Hash = h;
        return n == MaxSize ? MaxSize : 0;
    }

    /// <summary>Every chunk length of <paramref name="data"/> in order (for data held whole, such as tests).</summary>
    public static IEnumerable<int> Cuts(ReadOnlyMemory<byte> data)
    {
        var offset = 0;
        while (offset < data.Length)
        {
            var length = NextCut(data.Span[offset..]);
            yield return length;
            offset += length;
        }
    }
}
