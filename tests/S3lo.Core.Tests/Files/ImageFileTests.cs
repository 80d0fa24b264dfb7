using System.Security.Cryptography;
using System.Text;
using S3lo.Core.Files;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Tests.TestSupport;
using static S3lo.Core.Tests.Files.TestImages;

namespace S3lo.Core.Tests.Files;

/// <summary>The merged filesystem of images whose layers are tars written here (plain, gzip and zstd), in a local store.</summary>
public sealed class ImageFileTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private ImageStore _store = null!;

    public Task InitializeAsync()
    {
        _store = new ImageStore(new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store"))));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<ImageFileSystem> OpenAsync(params (LayerTar Tar, Stored Stored)[] layers)
    {
        var descriptors = new List<Descriptor>();
        foreach (var (tar, stored) in layers) descriptors.Add(await PutLayerAsync(_store, tar.ToArray(), stored));
        var reference = await PublishAsync(_store, "app", "v" + Guid.NewGuid().ToString("N")[..8], descriptors);
        return await ImageFileSystem.OpenAsync(_store, reference, null, default);
    }

    private static async Task<string> ReadAsync(ImageFileSystem files, string path)
    {
        using var content = new MemoryStream();
        await files.CopyFileAsync(path, content, default);
        return Encoding.UTF8.GetString(content.ToArray());
    }

    private static async Task<string> FailsWithAsync(Func<Task> action)
        => (await Assert.ThrowsAsync<S3loException>(action)).ErrorId;

    [Fact]
    public async Task Layers_apply_in_order_across_plain_gzip_and_zstd_and_an_upper_layer_wins()
    {
        var files = await OpenAsync(
            (new LayerTar().Directory("etc/").File("etc/os-release", "one\n").File("etc/hostname", "base\n"), Stored.Gzip),
            (new LayerTar().File("./etc/os-release", "two\n").File("usr/share/doc/readme", "docs"), Stored.Zstd),
            (new LayerTar().File("etc/motd", "hello", (UnixFileMode)0b111_101_000), Stored.Plain));

        Assert.Equal("two\n", await ReadAsync(files, "/etc/os-release"));
        Assert.Equal("base\n", await ReadAsync(files, "etc/hostname"));
        Assert.Equal("hello", await ReadAsync(files, "/etc/./motd"));
        var listed = files.Files.ToList();
        Assert.Equal(["/etc", "/etc/hostname", "/etc/motd", "/etc/os-release", "/usr", "/usr/share", "/usr/share/doc", "/usr/share/doc/readme"],
            listed.Select(f => f.Path));
        var release = listed.Single(f => f.Path == "/etc/os-release");
        Assert.Equal(ImageFileType.File, release.Type);
        Assert.Equal(4, release.Size);
        Assert.Equal(files.Find("/usr/share/doc/readme")!.Layer, release.Layer);
        Assert.NotEqual(files.Find("/etc/hostname")!.Layer, release.Layer);
        Assert.Equal((UnixFileMode)0b111_101_000, files.Find("/etc/motd")!.Mode);
        // A directory only implied by the paths under it is listed too, without a mode.
        Assert.Equal(ImageFileType.Directory, files.Find("/usr/share")!.Type);
        Assert.Null(files.Find("/usr/share")!.Mode);
    }

    [Fact]
    public async Task A_whiteout_hides_a_file_or_a_whole_directory_of_the_layers_below()
    {
        var files = await OpenAsync(
            (new LayerTar().File("etc/a", "a").File("etc/b", "b").File("var/cache/x/y", "y"), Stored.Gzip),
            (new LayerTar().Whiteout("etc/a").Whiteout("var/cache"), Stored.Gzip));

        Assert.Null(files.Find("/etc/a"));
        Assert.Equal("b", await ReadAsync(files, "/etc/b"));
        Assert.DoesNotContain(files.Files, f => f.Path.StartsWith("/var/cache", StringComparison.Ordinal));
        Assert.DoesNotContain(files.Files, f => f.Name.StartsWith(".wh.", StringComparison.Ordinal));
        Assert.Equal(ErrorIds.FileNotFound, await FailsWithAsync(() => ReadAsync(files, "/etc/a")));
        Assert.Equal(ErrorIds.FileNotFound, await FailsWithAsync(() => ReadAsync(files, "/var/cache/x/y")));
    }

    [Fact]
    public async Task An_opaque_directory_hides_what_the_layers_below_put_in_it_but_not_what_its_own_layer_adds()
    {
        var files = await OpenAsync(
            (new LayerTar().File("opt/old", "old").File("opt/sub/deep", "deep").File("other/keep", "keep"), Stored.Zstd),
            (new LayerTar().Directory("opt/").File("opt/new", "new").Opaque("opt"), Stored.Zstd));

        Assert.Equal(["/opt", "/opt/new", "/other", "/other/keep"], files.Files.Select(f => f.Path));
        Assert.Equal("new", await ReadAsync(files, "/opt/new"));
    }

    [Fact]
    public async Task A_file_laid_over_a_directory_replaces_it_and_what_was_under_it()
    {
        var files = await OpenAsync(
            (new LayerTar().File("data/inner/file", "x"), Stored.Plain),
            (new LayerTar().File("data", "now a file"), Stored.Plain));

        Assert.Equal(["/data"], files.Files.Select(f => f.Path));
        Assert.Equal("now a file", await ReadAsync(files, "/data"));
    }

    [Fact]
    public async Task Symbolic_links_are_followed_relative_absolute_through_directories_and_never_above_the_root()
    {
        var files = await OpenAsync(
            (new LayerTar().File("bin/busybox", "BUSYBOX").Symlink("bin/sh", "busybox").File("usr/lib/libc.so", "LIBC")
                .Symlink("lib", "usr/lib"), Stored.Gzip),
            (new LayerTar().Symlink("usr/bin/env", "../../bin/sh").Symlink("abs", "/usr/bin/env")
                .Symlink("escape", "../../../../../bin/busybox").Symlink("etc/dot", "./../bin/./sh"), Stored.Zstd));

        Assert.Equal("BUSYBOX", await ReadAsync(files, "/bin/sh"));
        Assert.Equal("BUSYBOX", await ReadAsync(files, "/usr/bin/env"));
        Assert.Equal("BUSYBOX", await ReadAsync(files, "/abs"));
        Assert.Equal("BUSYBOX", await ReadAsync(files, "/escape"));
        Assert.Equal("BUSYBOX", await ReadAsync(files, "/etc/dot"));
        Assert.Equal("LIBC", await ReadAsync(files, "/lib/libc.so"));
        Assert.Equal("/bin/busybox", files.Resolve("/abs").Path);
        var link = files.Find("/usr/bin/env")!;
        Assert.Equal(ImageFileType.Symlink, link.Type);
        Assert.Equal("../../bin/sh", link.LinkTarget);
    }

    [Fact]
    public async Task A_chain_of_sixteen_links_is_followed_and_a_seventeenth_or_a_loop_is_SymlinkLoop()
    {
        var tar = new LayerTar().File("target", "end").Symlink("a-l0", "/target").Symlink("loop1", "loop2").Symlink("loop2", "/loop1");
        for (var i = 1; i <= 16; i++) tar.Symlink($"a-l{i}", $"a-l{i - 1}");
        var files = await OpenAsync((tar, Stored.Plain));

        Assert.Equal("end", await ReadAsync(files, "/a-l15"));
        Assert.Equal(ErrorIds.SymlinkLoop, await FailsWithAsync(() => ReadAsync(files, "/a-l16")));
        Assert.Equal(ErrorIds.SymlinkLoop, await FailsWithAsync(() => ReadAsync(files, "/loop1")));
    }

    [Fact]
    public async Task A_hard_link_names_another_path_from_the_image_root()
    {
        var files = await OpenAsync(
            (new LayerTar().File("usr/bin/real", "REAL CONTENT").Hardlink("usr/bin/alias", "usr/bin/real").Hardlink("sbin/other", "./usr/bin/alias"),
                Stored.Gzip));

        Assert.Equal("REAL CONTENT", await ReadAsync(files, "/usr/bin/alias"));
        Assert.Equal("REAL CONTENT", await ReadAsync(files, "/sbin/other"));
        var alias = files.Find("/usr/bin/alias")!;
        Assert.Equal(ImageFileType.Hardlink, alias.Type);
        Assert.Equal("/usr/bin/real", alias.LinkTarget);
        Assert.Equal(12, alias.Size);
    }

    [Fact]
    public async Task Directories_missing_files_and_paths_above_the_root_are_refused()
    {
        var files = await OpenAsync((new LayerTar().Directory("etc/").File("etc/passwd", "root"), Stored.Gzip));

        Assert.Equal(ErrorIds.IsADirectory, await FailsWithAsync(() => ReadAsync(files, "/etc")));
        Assert.Equal(ErrorIds.IsADirectory, await FailsWithAsync(() => ReadAsync(files, "/")));
        Assert.Equal(ErrorIds.FileNotFound, await FailsWithAsync(() => ReadAsync(files, "/etc/shadow")));
        Assert.Equal(ErrorIds.FileNotFound, await FailsWithAsync(() => ReadAsync(files, "/etc/passwd/x")));
        Assert.Equal(ErrorIds.InvalidArgument, await FailsWithAsync(() => ReadAsync(files, "/etc/../../etc/passwd")));
        Assert.Equal("root", await ReadAsync(files, "/etc/../etc/passwd"));
    }

    [Fact]
    public async Task A_layer_that_is_not_a_tar_is_InvalidArchive()
    {
        var bytes = RandomNumberGenerator.GetBytes(4096);
        var layer = new Descriptor(MediaTypes.OciLayerGzip, Digest.Compute(bytes), bytes.Length);
        await _store.PutBlobAsync(layer, new MemoryStream(bytes), null, default);
        var reference = await PublishAsync(_store, "app", "bad", [layer]);
        Assert.Equal(ErrorIds.InvalidArchive, await FailsWithAsync(() => ImageFileSystem.OpenAsync(_store, reference, null, default)));

        var notTar = Gzip(RandomNumberGenerator.GetBytes(4096));
        var gzipped = new Descriptor(MediaTypes.OciLayerGzip, Digest.Compute(notTar), notTar.Length);
        await _store.PutBlobAsync(gzipped, new MemoryStream(notTar), null, default);
        var second = await PublishAsync(_store, "app", "bad2", [gzipped]);
        Assert.Equal(ErrorIds.InvalidArchive, await FailsWithAsync(() => ImageFileSystem.OpenAsync(_store, second, null, default)));
    }

    [Fact]
    public async Task A_file_early_in_a_layer_is_returned_only_after_the_whole_layer_matched_its_digest()
    {
        var tar = new LayerTar().File("first", "FIRST").File("last", new string('x', 100_000)).ToArray();
        var layer = await PutLayerAsync(_store, tar, Stored.Plain);
        var reference = await PublishAsync(_store, "app", "v1", [layer]);
        var files = await ImageFileSystem.OpenAsync(_store, reference, null, default);

        // Bytes changed far past the first file: only reading on to the end can notice.
        tar[^2000] ^= 0x01;
        await _store.Objects.PutBytesAsync(StoreLayout.BlobKey(layer.Digest), tar, ObjectClass.Blob, default);
        Assert.Equal(ErrorIds.DigestMismatch, await FailsWithAsync(() => ReadAsync(files, "/first")));
        var output = _dir.File("first.txt");
        Assert.Equal(ErrorIds.DigestMismatch, await FailsWithAsync(() => files.SaveFileAsync("/first", output, overwrite: false, default)));
        Assert.False(File.Exists(output));
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(_dir.Path), p => Path.GetFileName(p).StartsWith(".s3lo", StringComparison.Ordinal));
        // And a listing of a corrupt layer fails too.
        Assert.Equal(ErrorIds.DigestMismatch, await FailsWithAsync(() => ImageFileSystem.OpenAsync(_store, reference, null, default)));
    }

    [Fact]
    public async Task SaveFile_writes_the_content_and_replaces_an_existing_file_only_when_allowed()
    {
        var files = await OpenAsync((new LayerTar().File("etc/os-release", "ID=test\n"), Stored.Zstd));
        var output = _dir.File("os-release");
        await files.SaveFileAsync("/etc/os-release", output, overwrite: false, default);
        Assert.Equal("ID=test\n", File.ReadAllText(output));
        Assert.Equal(ErrorIds.OutputExists, await FailsWithAsync(() => files.SaveFileAsync("/etc/os-release", output, overwrite: false, default)));
        File.WriteAllText(output, "old");
        await files.SaveFileAsync("/etc/os-release", output, overwrite: true, default);
        Assert.Equal("ID=test\n", File.ReadAllText(output));
        Assert.Equal(ErrorIds.FileNotFound, await FailsWithAsync(() => files.SaveFileAsync("/nothing", _dir.File("nothing"), overwrite: false, default)));
        Assert.False(File.Exists(_dir.File("nothing")));
    }
}
