using System.Security.Cryptography;
using System.Text;
using S3lo.Core.Chunking;

namespace S3lo.Core.Tests.Chunking;

/// <summary>The test vectors of docs/format.md ("Chunking", "Test vectors"): the cuts s3lo makes, byte for byte.</summary>
public sealed class FastCdcTests
{
    private const int StreamLength = 41_943_040;
    private static readonly int[] ExpectedSizes = [5236267, 4199608, 3709799, 6347713, 4340830, 1535493, 5018174, 3072553, 4839453, 3643150];

    private static readonly Lazy<byte[]> VectorStream = new(() =>
    {
        var data = new byte[StreamLength];
        Span<byte> counter = stackalloc byte[8];
        for (long i = 0, offset = 0; offset < data.Length; i++, offset += 32)
        {
            BitConverter.TryWriteBytes(counter, i);
            if (!BitConverter.IsLittleEndian) counter.Reverse();
            var hash = SHA256.HashData(counter);
            hash.AsSpan(0, (int)Math.Min(32, data.Length - offset)).CopyTo(data.AsSpan((int)offset));
        }
        return data;
    });

    [Fact]
    public void The_gear_table_is_SplitMix64()
    {
        Assert.Equal(256, FastCdc.Gear.Count);
        Assert.Equal(0x6e789e6aa1b965f4UL, FastCdc.Gear[0]);
        Assert.Equal(0x06c45d188009454fUL, FastCdc.Gear[1]);
        Assert.Equal(0xcbdc6d34b7c7534dUL, FastCdc.Gear[255]);
    }

    [Fact]
    public void The_vector_stream_is_cut_where_s3lo_cuts_it()
    {
        var data = VectorStream.Value;
        Assert.Equal("cc171d8256ecce211b103c7978e989462bfe0b9daaf4505ee91c4941301154b2", Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant());

        var sizes = FastCdc.Cuts(data).ToArray();

        Assert.Equal(ExpectedSizes, sizes);
        Assert.Equal("9e51aff862efe60b4462fb8ce97106ef802af864b9df7f3227e318b596e61d98",
            Convert.ToHexString(SHA256.HashData(data.AsSpan(0, sizes[0]))).ToLowerInvariant());
    }

    [Fact]
    public void Eight_bytes_inserted_in_the_middle_change_one_chunk()
    {
        var data = VectorStream.Value;
        var edited = new byte[data.Length + 8];
        data.AsSpan(0, 10_485_760).CopyTo(edited);
        Encoding.ASCII.GetBytes("S3LOEDIT").CopyTo(edited, 10_485_760);
        data.AsSpan(10_485_760).CopyTo(edited.AsSpan(10_485_768));

        var before = ChunkHashes(data);
        var after = ChunkHashes(edited);

        Assert.Equal(10, after.Count);
        Assert.Equal(9, after.Count(before.Contains));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(FastCdc.MinSize)]
    public void Data_no_longer_than_the_minimum_is_one_chunk(int length)
        => Assert.Equal(length, FastCdc.NextCut(new byte[length]));

    [Fact]
    public void A_chunk_is_never_longer_than_the_maximum()
        => Assert.Equal(FastCdc.MaxSize, FastCdc.NextCut(new byte[FastCdc.MaxSize + 100]));

    // A stream cut as it is read, a step at a time (the chunked push reads so), is cut where the whole of it is.
    [Theory]
    [InlineData(4099)]
    [InlineData(1 << 20)]
    [InlineData((5 << 20) + 3)]
    public void A_stream_read_in_steps_is_cut_where_the_whole_of_it_is(int step)
    {
        Assert.Equal(ExpectedSizes, CutsInSteps(VectorStream.Value, step));
        Assert.Equal([FastCdc.MaxSize, 100], CutsInSteps(new byte[FastCdc.MaxSize + 100], step));
        Assert.Equal([FastCdc.MinSize - 1], CutsInSteps(new byte[FastCdc.MinSize - 1], step));
    }

    private static List<int> CutsInSteps(byte[] data, int step)
    {
        var sizes = new List<int>();
        var offset = 0;
        while (offset < data.Length)
        {
            var scan = FastCdc.CutScan.Start;
            var seen = 0;
            int length;
            while (true)
            {
                seen = Math.Min(data.Length - offset, Math.Min(FastCdc.MaxSize, seen + step));
                length = FastCdc.FindCut(data.AsSpan(offset, seen), ref scan);
                if (length > 0) break;
                if (offset + seen == data.Length)
                {
                    length = seen;
                    break;
                }
            }
            sizes.Add(length);
            offset += length;
        }
        return sizes;
    }

    private static HashSet<string> ChunkHashes(byte[] data)
    {
        var hashes = new HashSet<string>();
        var offset = 0;
        foreach (var size in FastCdc.Cuts(data))
        {
            hashes.Add(Convert.ToHexString(SHA256.HashData(data.AsSpan(offset, size))));
            offset += size;
        }
        return hashes;
    }
}
