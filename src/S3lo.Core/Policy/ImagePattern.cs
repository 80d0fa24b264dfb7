using System.Text.RegularExpressions;
using S3lo.Core.Oci;

namespace S3lo.Core.Policy;

/// <summary>
/// Keys of the <c>images</c> section: an image name, or a glob whose <c>*</c> and <c>?</c> stay inside one
/// <c>/</c>-separated component (so <c>dev/*</c> matches <c>dev/api</c> but not <c>dev/team/api</c>).
/// </summary>
public static partial class ImagePattern
{
    public static bool IsPattern(string key) => key.AsSpan().IndexOfAny('*', '?') >= 0;

    public static bool IsValid(string? key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > ImageName.MaxNameLength) return false;
        if (!IsPattern(key)) return ImageName.IsValidName(key);
        return key.Split('/').All(c => c is not ("." or "..") && Component().IsMatch(c));
    }

    public static bool Matches(string pattern, string name)
    {
        var patternParts = pattern.Split('/');
        var nameParts = name.Split('/');
        return patternParts.Length == nameParts.Length
            && patternParts.Zip(nameParts).All(p => MatchesComponent(p.First, p.Second));
    }

    /// <summary>The entry that applies to <paramref name="name"/>: exact names first, then the longest pattern, ties by ordinal order.</summary>
    public static string? BestMatch(IEnumerable<string> keys, string name)
    {
        string? best = null;
        foreach (var key in keys)
        {
            if (!IsPattern(key))
            {
                if (key == name) return key;
                continue;
            }
            if (!Matches(key, name)) continue;
            if (best is null || key.Length > best.Length || (key.Length == best.Length && string.CompareOrdinal(key, best) < 0))
                best = key;
        }
        return best;
    }

    // Classic wildcard matching with one backtrack point: '*' resumes one character further on each retry.
    private static bool MatchesComponent(string pattern, string text)
    {
        int p = 0, t = 0, starP = -1, starT = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t])) { p++; t++; }
            else if (p < pattern.Length && pattern[p] == '*') { starP = p++; starT = t; }
            else if (starP >= 0) { p = starP + 1; t = ++starT; }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }

    [GeneratedRegex("^[a-z0-9._*?-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex Component();
}
