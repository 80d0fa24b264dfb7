using System.Text.Json.Nodes;

namespace S3lo.Core.Tests.TestSupport;

/// <summary>
/// Real images made once per test class with umoci and skopeo: an OCI layout holding v1 (one gzip layer with
/// hello.txt) and v2 (v1 plus a layer with second.txt), a layout holding only v1, and v1 as skopeo writes it
/// into an oci-archive and a classic docker-save archive (uncompressed layers, RepoTag app:v1).
/// </summary>
public sealed class ImageFixture : IDisposable
{
    public const string HelloText = "hello from v1\n";

    private readonly TempDir _dir = new();

    public ImageFixture()
    {
        Layout = _dir.File("layout");
        Tool.Run("umoci", "init", "--layout", Layout);
        Tool.Run("umoci", "new", "--image", Layout + ":v1");
        AddFile("v1", "v1", "hello.txt", HelloText);
        Tool.Run("umoci", "tag", "--image", Layout + ":v1", "v2");
        AddFile("v2", "v2", "second.txt", "second layer\n");

        SingleLayout = _dir.File("single");
        Tool.Run("skopeo", "copy", "oci:" + Layout + ":v1", "oci:" + SingleLayout + ":v1");
        OciArchive = _dir.File("oci-archive.tar");
        Tool.Run("skopeo", "copy", "oci:" + Layout + ":v1", "oci-archive:" + OciArchive);
        DockerArchive = _dir.File("docker-archive.tar");
        Tool.Run("skopeo", "copy", "oci:" + Layout + ":v1", "docker-archive:" + DockerArchive + ":app:v1");
    }

    /// <summary>OCI layout with tags v1 and v2.</summary>
    public string Layout { get; }
    /// <summary>OCI layout with only v1.</summary>
    public string SingleLayout { get; }
    public string OciArchive { get; }
    public string DockerArchive { get; }

    /// <summary>The digest index.json gives to <paramref name="tag"/> in <paramref name="layout"/>.</summary>
    public static string ManifestDigest(string layout, string tag)
    {
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))!;
        return index["manifests"]!.AsArray()
            .Single(m => (string?)m!["annotations"]?["org.opencontainers.image.ref.name"] == tag)!["digest"]!.GetValue<string>();
    }

    public static byte[] BlobBytes(string layout, string digest)
        => File.ReadAllBytes(Path.Combine(layout, "blobs", "sha256", digest["sha256:".Length..]));

    private void AddFile(string fromTag, string toTag, string name, string content)
    {
        var bundle = _dir.File("bundle-" + toTag);
        Tool.Run("umoci", "unpack", "--rootless", "--image", Layout + ":" + fromTag, bundle);
        File.WriteAllText(Path.Combine(bundle, "rootfs", name), content);
        Tool.Run("umoci", "repack", "--image", Layout + ":" + toTag, bundle);
    }

    public void Dispose() => _dir.Dispose();
}
