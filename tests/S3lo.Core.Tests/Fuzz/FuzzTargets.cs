using System.Formats.Tar;
using System.IO.Compression;
using System.Reflection;
using System.Text;
using S3lo.Core.Files;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Policy;
using S3lo.Core.Registry;
using S3lo.Core.Storage;

namespace S3lo.Core.Tests.Fuzz;

/// <summary>
/// The parsers and readers S3lo feeds with bytes it did not write: each target takes one input, and must either accept
/// it or fail with an <see cref="S3loException"/>. The seed inputs are well-formed examples the mutator starts from.
/// </summary>
public sealed record FuzzTarget(string Name, Action<byte[]> Run, IReadOnlyList<byte[]> Seeds)
{
    public override string ToString() => Name;
}

public static class FuzzTargets
{
    private static readonly Digest SomeDigest = Digest.Compute("fuzz"u8.ToArray());

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static readonly string ManifestJson =
        $$$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{{SomeDigest}}}","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{{SomeDigest}}}","size":123,"annotations":{"a":"b"}}],"annotations":{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}""";

    private static readonly string IndexJson =
        $$$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{{{SomeDigest}}}","size":500,"platform":{"architecture":"amd64","os":"linux","variant":"v8"}}]}""";

    private static readonly string ConfigJson =
        $$$"""{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["{{{SomeDigest}}}"]},"config":{"Env":["A=b"]}}""";

    private static readonly string RecipeJson =
        $$$"""{"chunk_format":1,"layer":"{{{SomeDigest.Hex}}}","size":10,"compressedDigest":"{{{SomeDigest.Hex}}}","compressedSize":20,"chunks":[{"digest":"{{{SomeDigest.Hex}}}","size":4,"compressedSize":8},{"digest":"{{{SomeDigest.Hex}}}","size":6,"compressedSize":12}]}""";

    private static readonly string FileIndexJson =
        $$$"""{"layer":"{{{SomeDigest.Hex}}}","files":[{"path":"etc/hosts","offset":512,"size":10},{"path":"bin/sh","link":"busybox"},{"path":"a/b","link":"etc/hosts","type":"hardlink"}]}""";

    private const string PolicyYaml = "default:\n  immutable: false\n  lifecycle:\n    keep_last: 10\n    max_age: 90d\n    keep_tags: [stable, latest]\nimages:\n  myapp:\n    immutable: true\n  dev/*:\n    lifecycle: { keep_last: 3, max_age: 7d }\n";

    private static readonly MethodInfo ReadDiffIds = typeof(DockerArchiveReader).GetMethod("ReadDiffIds", BindingFlags.NonPublic | BindingFlags.Static)!;

    private static byte[] Zstd(byte[] raw)
    {
        using var compressor = new ZstdSharp.Compressor(3);
        return compressor.Wrap(raw).ToArray();
    }

    private static byte[] Gzip(byte[] raw)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(raw);
        return output.ToArray();
    }

    /// <summary>The same bytes on every run (a PAX entry records its time), so a seed and case number name one input.</summary>
    internal static byte[] Tar()
    {
        var output = new MemoryStream();
        var time = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using (var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "etc/") { ModificationTime = time });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "etc/hosts") { DataStream = new MemoryStream(Utf8("127.0.0.1 localhost\n")), ModificationTime = time });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "bin/sh") { LinkName = "busybox", ModificationTime = time });
            writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, "usr/share/" + new string('x', 120)) { DataStream = new MemoryStream(new byte[700]), ModificationTime = time });
        }
        return output.ToArray();
    }

    /// <summary>An archive given to a push (a docker-archive or oci-archive) indexed as the push indexes it.</summary>
    private static void IndexArchive(byte[] bytes)
    {
        var path = Path.Combine(Path.GetTempPath(), "s3lo-fuzz-" + Guid.NewGuid().ToString("N") + ".tar");
        try
        {
            File.WriteAllBytes(path, bytes);
            S3lo.Core.Formats.TarFileSet.Open(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A layer read as a store's file reads it: through its decompression and the tar reader, checked against its digest.</summary>
    private static void ListLayer(byte[] bytes, string mediaType)
    {
        var dir = Path.Combine(Path.GetTempPath(), "s3lo-fuzz-" + Guid.NewGuid().ToString("N"));
        try
        {
            var store = ImageStore.OpenAsync(S3lo.Core.Storage.Local.LocalStoreProvider.Location(dir), default).GetAwaiter().GetResult();
            var digest = Digest.Compute(bytes);
            Directory.CreateDirectory(Path.Combine(dir, "blobs", "sha256"));
            File.WriteAllBytes(Path.Combine(dir, "blobs", "sha256", digest.Hex), bytes);
            LayerFiles.ListAsync(store, new Descriptor(mediaType, digest, bytes.Length), default).GetAwaiter().GetResult();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static readonly StoreContext Context = new(path => Path.GetFullPath(path, "/fuzz"));

    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("manifest", b => Manifest.Parse(b), [Utf8(ManifestJson), Utf8(IndexJson)]),
        new("index", b => Manifest.Parse(b, MediaTypes.OciIndex).SelectPlatform(Platform.Parse("linux/amd64")), [Utf8(IndexJson)]),
        new("config", b => Invoke(() => ReadDiffIds.Invoke(null, [b, "fuzz.tar"])), [Utf8(ConfigJson)]),
        new("policy", b => PolicyDocument.Parse(Encoding.UTF8.GetString(b)), [Utf8(PolicyYaml)]),
        new("recipe", b => ChunkRecipe.Parse(b, SomeDigest), [Utf8(RecipeJson)]),
        new("file-index", b => LayerFiles.ParseIndex(b, SomeDigest), [Zstd(Utf8(FileIndexJson))]),
        new("tar", b => ListLayer(b, MediaTypes.OciLayer), [Tar()]),
        new("tar-gzip", b => ListLayer(b, "application/vnd.oci.image.layer.v1.tar+gzip"), [Gzip(Tar())]),
        new("tar-zstd", b => ListLayer(b, MediaTypes.OciLayerZstd), [Zstd(Tar())]),
        new("archive", IndexArchive, [Tar()]),
        new("tar-index", b =>
        {
            // As a chunked push feeds it: in pieces that do not fall on block boundaries.
            var indexer = new S3lo.Core.Chunking.TarFileIndexer("fuzz");
            for (var at = 0; at < b.Length; at += 333) indexer.Feed(b.AsSpan(at, Math.Min(333, b.Length - at)));
            indexer.Complete();
        }, [Tar()]),
        new("reference", b =>
        {
            var text = Encoding.UTF8.GetString(b);
            if (ImageReference.LooksLikeReference(text)) ImageReference.Parse(text, Context);
            if (RegistryReference.TryParse(text, out _)) RegistryReference.Parse(text);
            Digest.TryParse(text, out _);
            PolicyDuration.TryParse(text, out _);
        }, [Utf8("s3://bucket/team/app:v1.2"), Utf8("local://./store/app@" + SomeDigest), Utf8("az://container/x/y:latest"),
            Utf8("127.0.0.1:5000/library/app:v1"), Utf8("90d"), Utf8("12h30m")]),
        new("platform", b => Platform.Parse(Encoding.UTF8.GetString(b)), [Utf8("linux/arm64/v8"), Utf8("windows/amd64")]),
    ];

    /// <summary>Calls through reflection, rethrowing what the method threw.</summary>
    private static void Invoke(Action call)
    {
        try
        {
            call();
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
        }
    }
}
