using S3lo.Core.Storage;
using S3lo.Core.Storage.Local;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>A fresh directory under the system temp directory, removed with everything in it on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "s3lo-test-" + Guid.NewGuid().ToString("N")[..12]);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>The directory as a local store.</summary>
    public ImageStore OpenStore() => new(new LocalObjectStore(LocalStoreProvider.Location(Path)));

    /// <summary>Makes every file now in the directory two hours old, past a one-hour grace period.</summary>
    public void Age()
    {
        var past = DateTime.UtcNow.AddHours(-2);
        foreach (var file in Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories)) System.IO.File.SetLastWriteTimeUtc(file, past);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (UnauthorizedAccessException)
        {
            // podman's vfs storage leaves read-only directories; make them writable and try again.
            Tool.Run("chmod", "-R", "u+rwx", Path);
            Directory.Delete(Path, recursive: true);
        }
    }
}
