using System.Runtime.CompilerServices;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace S3lo.Core.Tests.Fuzz;

/// <summary>
/// Seeded mutation fuzzing of every <see cref="FuzzTargets"/> target: each input parses or fails with an S3lo error id,
/// within a time limit and an allocation limit (a decompression bomb or a huge declared size must be refused before the
/// memory is taken). Inputs that once broke a target are kept under Fuzz/Corpus/&lt;target&gt;/ and replayed as tests.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    /// <summary>Mutated inputs per target and seed; with the seeds below, about 7,800 cases.</summary>
    private const int CasesPerSeed = 200;
    private static readonly int[] Seeds = [1, 2, 3];
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(10);
    private const long MaxAllocatedBytes = 256L << 20;

    public static TheoryData<string> TargetNames => new(FuzzTargets.All.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(TargetNames))]
    public void MutatedInputsParseOrFailWithAnS3loErrorId(string name)
    {
        var target = FuzzTargets.All.Single(t => t.Name == name);
        var failures = new List<string>();
        var cases = 0;
        foreach (var seed in Seeds)
        {
            var mutator = new Mutator(seed);
            for (var i = 0; i < CasesPerSeed; i++, cases++)
            {
                var input = mutator.Mutate(target.Seeds[i % target.Seeds.Count]);
                if (Check(target, input) is { } failure)
                {
                    failures.Add($"seed {seed} case {i}: {failure}");
                    SaveFinding(target.Name, input);
                }
            }
        }
        output.WriteLine($"fuzz {name}: {cases} cases, seeds {string.Join(",", Seeds)}, {failures.Count} failures");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
    }

    public static TheoryData<string, string> CorpusFiles()
    {
        var data = new TheoryData<string, string>();
        foreach (var dir in Directory.EnumerateDirectories(CorpusDirectory()).Order())
            foreach (var file in Directory.EnumerateFiles(dir).Order())
                data.Add(Path.GetFileName(dir), Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void CorpusInputParsesOrFailsWithAnS3loErrorId(string target, string file)
    {
        var input = File.ReadAllBytes(Path.Combine(CorpusDirectory(), target, file));
        Assert.Null(Check(FuzzTargets.All.Single(t => t.Name == target), input));
    }

    /// <summary>A failure names its seed and case, which must give the same input on a later run.</summary>
    [Fact]
    public void SeedInputsAreTheSameOnEveryRun()
    {
        var first = FuzzTargets.Tar();
        Thread.Sleep(1100);
        Assert.Equal(first, FuzzTargets.Tar());
    }

    [Fact]
    public void SeedInputsParse()
    {
        foreach (var target in FuzzTargets.All)
            foreach (var seed in target.Seeds)
                target.Run(seed);
    }

    [Fact]
    public void ARecipeChunkLargerThan16MiBIsRefused()
    {
        var recipe = File.ReadAllBytes(Path.Combine(CorpusDirectory(), "recipe", "chunk-of-17MiB.bin"));
        var e = Assert.Throws<S3loException>(() => S3lo.Core.Storage.ChunkRecipe.Parse(recipe, S3lo.Core.Oci.Digest.FromHex(string.Concat(Enumerable.Repeat("9f", 32)))));
        Assert.Equal(ErrorIds.InvalidManifest, e.ErrorId);
        Assert.Contains("16 MiB", e.Message);
    }

    [Fact]
    public void AFileIndexBombIsRefusedBeforeItsMemoryIsTaken()
    {
        var bomb = File.ReadAllBytes(Path.Combine(CorpusDirectory(), "file-index", "bomb-300MiB-of-zeros.bin"));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<S3loException>(() => S3lo.Core.Files.LayerFiles.ParseIndex(bomb, S3lo.Core.Oci.Digest.Compute(bomb)));
        Assert.Equal(ErrorIds.ObjectTooLarge, e.ErrorId);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, (long)S3lo.Core.Files.LayerFiles.MaxIndexJsonBytes * 3);
    }

    /// <summary>Runs one input on its own thread: null when it parsed or failed with an S3lo error, else what went wrong.</summary>
    internal static string? Check(FuzzTarget target, byte[] input)
    {
        string? failure = null;
        long allocated = 0;
        var thread = new Thread(() =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                target.Run(input);
            }
            catch (S3loException e) when (!string.IsNullOrEmpty(e.ErrorId))
            {
            }
            catch (Exception e)
            {
                failure = $"{e.GetType().FullName}: {e.Message}";
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }, maxStackSize: 16 << 20) { IsBackground = true };
        thread.Start();
        if (!thread.Join(CaseTimeout)) return $"no answer within {CaseTimeout.TotalSeconds} s";
        if (allocated > MaxAllocatedBytes) return $"allocated {allocated:N0} bytes for an input of {input.Length:N0}";
        return failure;
    }

    private static void SaveFinding(string target, byte[] input)
    {
        var dir = Environment.GetEnvironmentVariable("S3LO_FUZZ_FINDINGS");
        if (string.IsNullOrEmpty(dir)) return;
        Directory.CreateDirectory(Path.Combine(dir, target));
        File.WriteAllBytes(Path.Combine(dir, target, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(input))[..16].ToLowerInvariant() + ".bin"), input);
    }

    private static string CorpusDirectory([CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "Corpus");
}

/// <summary>A seeded mutator of byte inputs: bit flips, interesting bytes and numbers, cuts, repeats and splices of
/// tokens that parsers get wrong (huge numbers, invalid UTF-8, NULs, duplicated keys, deep nesting).</summary>
internal sealed class Mutator(int seed)
{
    private readonly Random _random = new(seed);

    private static readonly byte[][] Tokens =
    [
        "99999999999999999999"u8.ToArray(), "-1"u8.ToArray(), "1e400"u8.ToArray(), "9223372036854775807"u8.ToArray(),
        "18446744073709551616"u8.ToArray(), "0.5"u8.ToArray(), "null"u8.ToArray(), "[]"u8.ToArray(), "{}"u8.ToArray(),
        "\"\\u0000\""u8.ToArray(), "\"\\ud800\""u8.ToArray(), [0xff, 0xfe], [0xc3], [0xed, 0xa0, 0x80], [0],
        "\"a\":1,\"a\":2,"u8.ToArray(), Encoding.ASCII.GetBytes(new string('[', 2000)), "../../../etc/passwd"u8.ToArray(),
        "99999999999999d"u8.ToArray(), "- "u8.ToArray(), ": "u8.ToArray(), "&a "u8.ToArray(), "*a"u8.ToArray(), "!!binary "u8.ToArray(),
        "%"u8.ToArray(), "\t"u8.ToArray(), "\n  "u8.ToArray(),
        [0x28, 0xb5, 0x2f, 0xfd, 0xe4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], [0x1f, 0x8b, 0x08, 0x00],
    ];

    public byte[] Mutate(byte[] original)
    {
        var data = new List<byte>(original);
        var steps = 1 + _random.Next(4);
        for (var i = 0; i < steps; i++)
        {
            var at = data.Count == 0 ? 0 : _random.Next(data.Count);
            switch (_random.Next(9))
            {
                case 0 when data.Count > 0:
                    data[at] ^= (byte)(1 << _random.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data[at] = (byte)(_random.Next(3) switch { 0 => 0, 1 => 0xff, _ => _random.Next(256) });
                    break;
                case 2:
                    data.InsertRange(at, Tokens[_random.Next(Tokens.Length)]);
                    break;
                case 3 when data.Count > 0:
                    data.RemoveRange(at, Math.Min(data.Count - at, 1 + _random.Next(16)));
                    break;
                case 4 when data.Count > 0:
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 5 when data.Count > 0:
                    var length = Math.Min(data.Count - at, 1 + _random.Next(64));
                    data.InsertRange(_random.Next(data.Count), data.GetRange(at, length));
                    break;
                case 6 when data.Count > 8:
                    // A number somewhere replaced: sizes, offsets and counts are where readers trust the input.
                    var digit = data.FindIndex(at, b => b is >= (byte)'0' and <= (byte)'9');
                    if (digit >= 0) data.InsertRange(digit, Tokens[_random.Next(5)]);
                    break;
                case 7 when data.Count > 4:
                    // Header-sized binary fields (tar sizes, zstd frame headers) overwritten with big values.
                    for (var k = 0; k < 4 && at + k < data.Count; k++) data[at + k] = (byte)(_random.Next(2) == 0 ? 0xff : '7');
                    break;
                default:
                    data.Insert(at, (byte)_random.Next(256));
                    break;
            }
        }
        return data.ToArray();
    }
}
