using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using S3lo.Core.Oci;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>
/// podman's Docker-compatible API on a unix socket, standing in for a Docker daemon (none runs here), with vfs storage
/// in a fresh directory, holding <see cref="AppImage"/> (one layer with hello.txt) made with umoci and skopeo, and
/// <see cref="MultiImage"/>, a manifest list made with <c>podman manifest</c> of the host's platform and
/// <see cref="OtherPlatform"/> (each image in storage as <c>localhost/multi-&lt;arch&gt;:v1</c>) and linux/s390x, whose image
/// the list names but storage does not hold.
/// The service is stopped by its PID when the test collection ends.
/// </summary>
public sealed class PodmanService : IDisposable
{
    public const string AppImage = "localhost/app:v1";
    public const string MultiImage = "localhost/multi:v1";
    public static readonly Platform AbsentPlatform = new("linux", "s390x");

    /// <summary>The platform besides the host's that <see cref="MultiImage"/> holds.</summary>
    public static Platform OtherPlatform => new("linux", Platform.Host.Architecture == "arm64" ? "amd64" : "arm64");

    /// <summary>The name of the image in storage for one platform of <see cref="MultiImage"/>.</summary>
    public static string MultiImagePart(Platform platform) => $"localhost/multi-{platform.Architecture}:v1";

    private readonly Process _service;
    private readonly StringBuilder _serviceLog = new();
    private readonly string _dir;
    private readonly string[] _storage;

    public PodmanService()
    {
        // podman refuses storage paths too long for the socket and lock files it keeps under them, so the paths stay short.
        _dir = "/tmp/s3lo-pd-" + Guid.NewGuid().ToString("N")[..6];
        Directory.CreateDirectory(_dir);
        _storage = ["--storage-driver", "vfs", "--root", _dir + "/root", "--runroot", _dir + "/run"];
        SocketPath = _dir + "/podman.sock";

        var info = new ProcessStartInfo("podman") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])[.. _storage, "system", "service", "--time=0", "unix://" + SocketPath]) info.ArgumentList.Add(arg);
        _service = Process.Start(info)!;
        _service.OutputDataReceived += (_, e) => Log(e.Data);
        _service.ErrorDataReceived += (_, e) => Log(e.Data);
        _service.BeginOutputReadLine();
        _service.BeginErrorReadLine();
        WaitForSocket();

        var layout = _dir + "/layout";
        var bundle = _dir + "/bundle";
        Tool.Run("umoci", "init", "--layout", layout);
        Tool.Run("umoci", "new", "--image", layout + ":v1");
        Tool.Run("umoci", "unpack", "--rootless", "--image", layout + ":v1", bundle);
        File.WriteAllText(Path.Combine(bundle, "rootfs", "hello.txt"), ImageFixture.HelloText);
        Tool.Run("umoci", "repack", "--image", layout + ":v1", bundle);
        var archive = _dir + "/app.tar";
        Tool.Run("skopeo", "copy", "oci:" + layout + ":v1", "docker-archive:" + archive + ":" + AppImage);
        Podman("load", "-i", archive);

        // Each platform's image differs in its config and in a file naming its architecture.
        Podman("manifest", "create", MultiImage);
        foreach (var platform in (Platform[])[Platform.Host, OtherPlatform, AbsentPlatform])
        {
            var arch = platform.Architecture;
            var partLayout = $"{_dir}/multi-{arch}";
            var partBundle = $"{_dir}/bundle-{arch}";
            Tool.Run("umoci", "init", "--layout", partLayout);
            Tool.Run("umoci", "new", "--image", partLayout + ":v1");
            Tool.Run("umoci", "config", "--image", partLayout + ":v1", "--os", platform.Os, "--architecture", arch);
            Tool.Run("umoci", "unpack", "--rootless", "--image", partLayout + ":v1", partBundle);
            File.WriteAllText(Path.Combine(partBundle, "rootfs", "arch"), arch + "\n");
            Tool.Run("umoci", "repack", "--image", partLayout + ":v1", partBundle);
            if (platform == AbsentPlatform)
            {
                // Added from the layout, not from storage: the list names an image podman does not hold.
                Podman("manifest", "add", MultiImage, "oci:" + partLayout + ":v1");
                continue;
            }
            var partArchive = $"{_dir}/multi-{arch}.tar";
            Tool.Run("skopeo", "copy", "oci:" + partLayout + ":v1", "docker-archive:" + partArchive + ":" + MultiImagePart(platform));
            Podman("load", "-i", partArchive);
            Podman("manifest", "add", MultiImage, "containers-storage:" + MultiImagePart(platform));
        }
    }

    public string SocketPath { get; }

    public string Host => "unix://" + SocketPath;

    /// <summary>Runs podman against the service's storage.</summary>
    public string Podman(params string[] args) => Tool.Run("podman", [.. _storage, .. args]);

    /// <summary>The image's uncompressed layer digests as podman reports them (RootFS.Layers).</summary>
    public IReadOnlyList<string> RootFsLayers(string image)
        => JsonSerializer.Deserialize<List<string>>(Podman("image", "inspect", "--format", "{{json .RootFS.Layers}}", image))!;

    public string ImageField(string image, string field) => Podman("image", "inspect", "--format", "{{." + field + "}}", image).Trim();

    public void Dispose()
    {
        _service.Kill(entireProcessTree: true);
        _service.WaitForExit();
        _service.Dispose();
        // vfs storage leaves read-only directories behind.
        Tool.Run("chmod", "-R", "u+rwx", _dir);
        Directory.Delete(_dir, recursive: true);
    }

    private void Log(string? line)
    {
        if (line is null) return;
        lock (_serviceLog) _serviceLog.AppendLine(line);
    }

    private void WaitForSocket()
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (_service.HasExited)
                throw new InvalidOperationException($"podman system service exited {_service.ExitCode}: {_serviceLog}");
            if (File.Exists(SocketPath))
            {
                try
                {
                    using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
                    return;
                }
                catch (SocketException)
                {
                    // The file appears just before podman listens on it.
                }
            }
            Thread.Sleep(100);
        }
        _service.Kill(entireProcessTree: true);
        throw new TimeoutException($"podman system service did not listen on {SocketPath} within 30 s: {_serviceLog}");
    }
}

[CollectionDefinition(Name)]
public sealed class PodmanCollection : ICollectionFixture<PodmanService>
{
    public const string Name = "Podman";
}
