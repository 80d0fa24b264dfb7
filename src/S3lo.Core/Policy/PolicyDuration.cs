using System.Globalization;
using System.Text.RegularExpressions;

namespace S3lo.Core.Policy;

/// <summary>
/// The <c>max_age</c> notation shared with the Go s3lo: <c>&lt;int&gt;d</c> (days, s3lo's own addition),
/// or a Go duration such as <c>168h</c>, <c>30m</c>, <c>1h30m</c>, <c>1.5h</c> or <c>45s</c>.
/// </summary>
public static partial class PolicyDuration
{
    private static readonly (string Unit, decimal Ticks)[] GoUnits =
    [
        ("h", TimeSpan.TicksPerHour), ("m", TimeSpan.TicksPerMinute), ("s", TimeSpan.TicksPerSecond),
        ("ms", TimeSpan.TicksPerMillisecond), ("us", 10m), ("µs", 10m), ("μs", 10m), ("ns", 0.01m),
    ];

    /// <summary>Reads a non-negative duration; false for anything s3lo would not read the same way.</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrEmpty(text)) return false;
        if (Days().IsMatch(text))
        {
            if (!long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var days)
                || days > TimeSpan.MaxValue.Days) return false;
            value = TimeSpan.FromDays(days);
            return true;
        }
        try
        {
            return TryParseGo(text, out value);
        }
        catch (OverflowException)
        {
            // A number beyond any duration (Go refuses it as overflow too).
            value = default;
            return false;
        }
    }

    /// <summary>
    /// Writes whole days as <c>&lt;n&gt;d</c>, anything else in the largest single Go unit that holds it
    /// exactly (<c>36h</c>, <c>90m</c>, <c>1500ms</c>), which both s3lo and Go's time.ParseDuration read back.
    /// </summary>
    public static string Format(TimeSpan value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
        var ticks = value.Ticks;
        if (ticks % TimeSpan.TicksPerDay == 0) return Invariant(ticks / TimeSpan.TicksPerDay) + "d";
        foreach (var (unit, perUnit) in new[] { ("h", TimeSpan.TicksPerHour), ("m", TimeSpan.TicksPerMinute), ("s", TimeSpan.TicksPerSecond), ("ms", TimeSpan.TicksPerMillisecond), ("us", 10L) })
            if (ticks % perUnit == 0) return Invariant(ticks / perUnit) + unit;
        return Invariant(ticks * 100) + "ns";
    }

    private static string Invariant(long n) => n.ToString(CultureInfo.InvariantCulture);

    // Go's time.ParseDuration grammar, minus the negative sign: a max_age below zero means nothing.
    private static bool TryParseGo(string text, out TimeSpan value)
    {
        value = default;
        var s = text.AsSpan();
        if (s[0] == '+') s = s[1..];
        if (s.SequenceEqual("0")) return true;
        if (s.IsEmpty) return false;
        decimal total = 0;
        while (!s.IsEmpty)
        {
            var numberLength = 0;
            while (numberLength < s.Length && (char.IsAsciiDigit(s[numberLength]) || s[numberLength] == '.')) numberLength++;
            var number = s[..numberLength];
            if (number.IsEmpty || number.IndexOf('.') != number.LastIndexOf('.') || number.SequenceEqual(".")) return false;
            s = s[numberLength..];
            var unitLength = 0;
            while (unitLength < s.Length && !char.IsAsciiDigit(s[unitLength]) && s[unitLength] != '.') unitLength++;
            var unit = s[..unitLength].ToString();
            s = s[unitLength..];
            var perUnit = Array.Find(GoUnits, u => u.Unit == unit);
            if (perUnit.Unit is null) return false;
            if (number.Length > 25 || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount)) return false;
            total += amount * perUnit.Ticks;
            if (total > TimeSpan.MaxValue.Ticks) return false;
        }
        value = TimeSpan.FromTicks((long)decimal.Truncate(total));
        return true;
    }

    [GeneratedRegex("^[0-9]+d$", RegexOptions.CultureInvariant)]
    private static partial Regex Days();
}
