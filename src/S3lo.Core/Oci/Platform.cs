using System.Runtime.InteropServices;

namespace S3lo.Core.Oci;

/// <summary>An image platform such as <c>linux/amd64</c> or <c>linux/arm/v7</c>.</summary>
public sealed record Platform(string Os, string Architecture, string? Variant = null)
{
    public override string ToString() => Variant is null ? $"{Os}/{Architecture}" : $"{Os}/{Architecture}/{Variant}";

    /// <summary>True for the <c>unknown/unknown</c> entries that carry attestations, not runnable images.</summary>
    public bool IsAttestation => Os == "unknown" && Architecture == "unknown";

    /// <summary>Whether <paramref name="candidate"/> satisfies this requested platform: os and architecture
    /// exactly, the variant only when one was requested.</summary>
    public bool Matches(Platform candidate)
        => string.Equals(Os, candidate.Os, StringComparison.Ordinal)
           && string.Equals(Architecture, candidate.Architecture, StringComparison.Ordinal)
           && (Variant is null || string.Equals(Variant, candidate.Variant, StringComparison.Ordinal));

    public static Platform Parse(string value)
    {
        var parts = value.Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(p => p.Length == 0 || p.Any(char.IsWhiteSpace)))
            throw new S3loException(ErrorIds.InvalidPlatform, S3loErrorKind.InvalidArgument,
                $"'{value}' is not a platform: expected os/architecture or os/architecture/variant, such as linux/arm64.", value);
        return new Platform(parts[0].ToLowerInvariant(), parts[1].ToLowerInvariant(), parts.Length == 3 ? parts[2].ToLowerInvariant() : null);
    }

    /// <summary>The host's platform, with darwin and windows mapped to linux as container images are.</summary>
    public static Platform Host
    {
        get
        {
            var (arch, variant) = RuntimeInformation.OSArchitecture switch
            {
                System.Runtime.InteropServices.Architecture.X64 => ("amd64", (string?)null),
                System.Runtime.InteropServices.Architecture.Arm64 => ("arm64", null),
                System.Runtime.InteropServices.Architecture.Arm => ("arm", "v7"),
                System.Runtime.InteropServices.Architecture.X86 => ("386", null),
                System.Runtime.InteropServices.Architecture.S390x => ("s390x", null),
                System.Runtime.InteropServices.Architecture.Ppc64le => ("ppc64le", null),
                System.Runtime.InteropServices.Architecture.LoongArch64 => ("loong64", null),
                var other => (other.ToString().ToLowerInvariant(), null),
            };
            return new Platform("linux", arch, variant);
        }
    }
}
