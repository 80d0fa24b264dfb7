using S3lo.Core.Gc;

namespace S3lo.PowerShell.Internal;

/// <summary>How a blob collection's progress reads in Write-Progress, for every cmdlet that collects.</summary>
internal static class GcProgressView
{
    public const int ActivityId = 5312;

    public static (string Activity, string Status, int Percent) Describe(string store, GcProgress progress)
    {
        var activity = $"Collecting unreferenced blobs of {store}";
        // Neither phase knows its total in advance (both read streamed listings), so no percentage is shown.
        return progress.Phase == GcPhase.Marking
            ? (activity, $"Marking: {progress.TagsMarked} tag{(progress.TagsMarked == 1 ? "" : "s")} read", -1)
            : (activity, $"Sweeping: {progress.ObjectsScanned} objects listed, {progress.ObjectsSwept} unreferenced ({AsyncCmdlet.FormatBytes(progress.BytesSwept)})", -1);
    }
}
