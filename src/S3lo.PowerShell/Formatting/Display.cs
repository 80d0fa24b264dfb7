using System.Globalization;
using S3lo.Core.Policy;

namespace S3lo.PowerShell.Formatting;

/// <summary>
/// How S3lo.Format.ps1xml writes values for people: sizes in binary units, policy durations in the notation
/// s3lo.yaml uses (<c>7d</c>, <c>36h</c>), digests shortened. The objects keep the raw values for scripts.
/// </summary>
public static class Display
{
    private static readonly string[] SizeUnits = ["KiB", "MiB", "GiB", "TiB", "PiB"];

    /// <summary><c>512 B</c>, <c>20.0 KiB</c>, <c>1.50 GiB</c>, <c>-3.0 MiB</c>; empty for no size.</summary>
    public static string Size(long? bytes)
    {
        if (bytes is not { } b) return string.Empty;
        if (b < 0) return "-" + Size(b == long.MinValue ? long.MaxValue : -b);
        if (b < 1024) return b.ToString(CultureInfo.InvariantCulture) + " B";
        double value = b;
        var unit = -1;
        while (value >= 1024 && unit < SizeUnits.Length - 1) { value /= 1024; unit++; }
        return value.ToString(unit >= 2 ? "0.00" : "0.0", CultureInfo.InvariantCulture) + " " + SizeUnits[unit];
    }

    /// <summary>A policy duration the way s3lo.yaml writes it: <c>7d</c>, <c>36h</c>, <c>90m</c>; empty for none.</summary>
    public static string Duration(TimeSpan? value)
        => value is { } v && v >= TimeSpan.Zero ? PolicyDuration.Format(v) : string.Empty;

    /// <summary>An elapsed time: <c>0.4s</c>, <c>12.0s</c>, <c>3m05s</c>, <c>1h02m</c>.</summary>
    public static string Elapsed(TimeSpan value)
    {
        if (value.TotalMinutes < 1) return value.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s";
        if (value.TotalHours < 1) return string.Create(CultureInfo.InvariantCulture, $"{(int)value.TotalMinutes}m{value.Seconds:00}s");
        return string.Create(CultureInfo.InvariantCulture, $"{(int)value.TotalHours}h{value.Minutes:00}m");
    }

    /// <summary>One platform as it is; several as the first and how many more (<c>linux/amd64 +2</c>), which fits a table column.</summary>
    public static string Platforms(IReadOnlyList<string>? platforms) => platforms switch
    {
        null or { Count: 0 } => string.Empty,
        { Count: 1 } => platforms[0],
        _ => string.Create(CultureInfo.InvariantCulture, $"{platforms[0]} +{platforms.Count - 1}"),
    };

    /// <summary>The first 12 hex digits of a digest (what docker and podman show); empty for none.</summary>
    public static string ShortDigest(string? digest)
    {
        if (string.IsNullOrEmpty(digest)) return string.Empty;
        var colon = digest.IndexOf(':');
        var hex = colon < 0 ? digest : digest[(colon + 1)..];
        return hex.Length > 12 ? hex[..12] : hex;
    }
}
