using System.Text;
using System.Text.Json;

namespace S3lo.Core.Registry;

/// <summary>A user name and password (or token) for a registry.</summary>
public sealed record RegistryCredentials(string Username, string Password)
{
    public override string ToString() => $"{Username}:***";

    internal string BasicHeaderValue => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}"));

    public static string DefaultDockerConfigPath
        => Path.Combine(Environment.GetEnvironmentVariable("DOCKER_CONFIG") is { Length: > 0 } dir
            ? dir
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker"), "config.json");

    /// <summary>
    /// The credentials <c>docker login</c> stored for <paramref name="registry"/> in the <c>auths</c> section of a
    /// Docker config file, or null. Keys may carry a scheme and path (<c>https://index.docker.io/v1/</c>), so they
    /// are compared by host. Credential helpers (<c>credsStore</c>, <c>credHelpers</c>) are not consulted.
    /// </summary>
    public static RegistryCredentials? FromDockerConfig(string registry, string? configPath = null)
    {
        configPath ??= DefaultDockerConfigPath;
        if (!File.Exists(configPath)) return null;
        JsonElement auths;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(configPath));
            if (!document.RootElement.TryGetProperty("auths", out var a) || a.ValueKind != JsonValueKind.Object) return null;
            auths = a.Clone();
        }
        catch (JsonException e)
        {
            throw new S3loException(ErrorIds.CredentialsNotFound, S3loErrorKind.InvalidData,
                $"The Docker config file {configPath} is not valid JSON: {e.Message}", configPath, e);
        }

        var wanted = registry == RegistryReference.DockerHub
            ? new[] { "docker.io", "index.docker.io", RegistryReference.DockerHubApiHost }
            : new[] { registry };
        foreach (var entry in auths.EnumerateObject())
        {
            if (!wanted.Contains(HostOf(entry.Name), StringComparer.OrdinalIgnoreCase)) continue;
            if (entry.Value.ValueKind != JsonValueKind.Object || !entry.Value.TryGetProperty("auth", out var auth) || auth.ValueKind != JsonValueKind.String)
                continue;
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth.GetString()!));
            }
            catch (FormatException)
            {
                continue;
            }
            var colon = decoded.IndexOf(':');
            if (colon > 0) return new RegistryCredentials(decoded[..colon], decoded[(colon + 1)..]);
        }
        return null;
    }

    private static string HostOf(string key)
    {
        var scheme = key.IndexOf("://", StringComparison.Ordinal);
        var rest = scheme >= 0 ? key[(scheme + 3)..] : key;
        var slash = rest.IndexOf('/');
        return slash >= 0 ? rest[..slash] : rest;
    }
}
