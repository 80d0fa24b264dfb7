using System.Management.Automation;
using S3lo.Core.Policy;

namespace S3lo.PowerShell.Internal;

/// <summary>
/// Lets a TimeSpan parameter take the durations s3lo.yaml uses: <c>90d</c>, <c>168h</c>, <c>30m</c>. A bare number
/// counts days, because PowerShell itself reads an unquoted <c>90d</c> as the decimal number 90.
/// </summary>
public sealed class DurationTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        var value = inputData is PSObject ps ? ps.BaseObject : inputData;
        TimeSpan? duration = value switch
        {
            TimeSpan span => span,
            int or long or decimal or double when Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture) is >= 0 and var days
                => TimeSpan.FromDays(days),
            string text when PolicyDuration.TryParse(text, out var parsed) => parsed,
            string text when TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var parsed) => parsed,
            _ => null,
        };
        return duration switch
        {
            null => throw new ArgumentTransformationMetadataException(
                $"'{value}' is not a duration: use days like 90d, a Go-style duration like 168h or 30m, or a TimeSpan."),
            // A TimeSpan, or a string in TimeSpan notation such as '-1:00:00' (a number of days below zero is no duration above).
            { Ticks: < 0 } => throw new ArgumentTransformationMetadataException($"'{value}' is negative; a duration must be zero or more."),
            { } span => span,
        };
    }
}
