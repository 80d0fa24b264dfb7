using System.Text.Json.Nodes;
using S3lo.Core.Oci;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Registry;

/// <summary>
/// Two real registries on 127.0.0.1, one anonymous and one behind htpasswd basic auth, each holding app:v1 (one image,
/// copied in by skopeo from an umoci layout) and the anonymous one also multi:v1, an index of two platforms.
/// </summary>
public sealed class RegistryFixture : IDisposable
{
    public const string User = "tester";
    public const string Password = "s3cret-pass";

    private readonly TempDir _dir = new();

    public RegistryFixture()
    {
        Images = new ImageFixture();
        Anonymous = new RegistryServer();
        Authenticated = new RegistryServer(User, Password);

        MultiLayout = _dir.File("multi");
        Tool.Run("skopeo", "copy", "oci:" + Images.Layout + ":v1", "oci:" + MultiLayout + ":amd64");
        Tool.Run("skopeo", "copy", "oci:" + Images.Layout + ":v2", "oci:" + MultiLayout + ":arm64");
        WriteIndex(MultiLayout, "multi", ["amd64", "arm64"]);

        Tool.Run("skopeo", "copy", "--dest-tls-verify=false", "oci:" + Images.Layout + ":v1", $"docker://{Anonymous.Host}/app:v1");
        Tool.Run("skopeo", "copy", "--all", "--dest-tls-verify=false", "oci:" + MultiLayout + ":multi", $"docker://{Anonymous.Host}/multi:v1");
        Tool.Run("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", $"{User}:{Password}",
            "oci:" + Images.Layout + ":v1", $"docker://{Authenticated.Host}/app:v1");
    }

    public ImageFixture Images { get; }
    public RegistryServer Anonymous { get; }
    public RegistryServer Authenticated { get; }
    public string MultiLayout { get; }

    /// <summary>The manifest as the registry serves it to skopeo, for comparing bytes.</summary>
    public static string RawManifest(string host, string reference, string? creds = null)
        => Tool.Run("skopeo", ["inspect", "--raw", "--tls-verify=false", .. creds is null ? Array.Empty<string>() : ["--creds", creds], $"docker://{host}/{reference}"],
            null, TimeSpan.FromMinutes(1));

    /// <summary>Adds to <paramref name="layout"/> an image index whose entries are the tagged manifests, each given the
    /// platform linux/&lt;tag&gt;, and tags it <paramref name="tag"/>.</summary>
    private static void WriteIndex(string layout, string tag, string[] architectures)
    {
        var entries = new JsonArray();
        foreach (var arch in architectures)
        {
            var digest = ImageFixture.ManifestDigest(layout, arch);
            entries.Add(new JsonObject
            {
                ["mediaType"] = MediaTypes.OciManifest,
                ["digest"] = digest,
                ["size"] = ImageFixture.BlobBytes(layout, digest).Length,
                ["platform"] = new JsonObject { ["architecture"] = arch, ["os"] = "linux" },
            });
        }
        var index = new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = MediaTypes.OciIndex, ["manifests"] = entries };
        var bytes = System.Text.Encoding.UTF8.GetBytes(index.ToJsonString());
        var hex = Digest.Compute(bytes).Hex;
        File.WriteAllBytes(Path.Combine(layout, "blobs", "sha256", hex), bytes);

        var indexPath = Path.Combine(layout, "index.json");
        var top = JsonNode.Parse(File.ReadAllText(indexPath))!;
        top["manifests"]!.AsArray().Add(new JsonObject
        {
            ["mediaType"] = MediaTypes.OciIndex,
            ["digest"] = "sha256:" + hex,
            ["size"] = bytes.Length,
            ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag },
        });
        File.WriteAllText(indexPath, top.ToJsonString());
    }

    public void Dispose()
    {
        Anonymous.Dispose();
        Authenticated.Dispose();
        Images.Dispose();
        _dir.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class RegistryCollection : ICollectionFixture<RegistryFixture>
{
    public const string Name = "Registry";
}
