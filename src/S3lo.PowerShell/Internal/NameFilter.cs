using System.Management.Automation;

namespace S3lo.PowerShell.Internal;

/// <summary>Image name patterns (PowerShell wildcards) as a listing prefix and a predicate.</summary>
internal static class NameFilter
{
    public static (string Prefix, Func<string, bool> Match) From(string[]? patterns)
        => (patterns is { Length: 1 } ? LiteralPrefix(patterns[0]) : "", Matcher(patterns));

    public static Func<string, bool> Matcher(string[]? patterns)
    {
        if (patterns is null || patterns.Length == 0) return _ => true;
        var compiled = patterns.Select(p => new WildcardPattern(p, WildcardOptions.CultureInvariant)).ToArray();
        return value => compiled.Any(p => p.IsMatch(value));
    }

    /// <summary>The listing prefix for one name pattern: its text up to the first wildcard, or the whole
    /// name followed by '/' when it has none (so 'app' does not list 'app2').</summary>
    private static string LiteralPrefix(string pattern)
    {
        if (!WildcardPattern.ContainsWildcardCharacters(pattern)) return WildcardPattern.Unescape(pattern) + "/";
        return pattern[..pattern.IndexOfAny(['*', '?', '[', '`'])];
    }
}
