using System.Management.Automation;
using S3lo.Core.Health;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>
/// Checks a store without changing it: every tag's manifests and what they reference, s3lo.yaml, signature records and
/// the objects no tag references; one StoreProblem per problem, or with -Quiet one boolean.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "S3loStore", DefaultParameterSetName = ProblemsSet)]
[OutputType(typeof(StoreProblem), ParameterSetName = [ProblemsSet])]
[OutputType(typeof(bool), ParameterSetName = [QuietSet])]
public sealed class TestS3loStoreCommand : StoreCmdlet
{
    private const string ProblemsSet = "Problems";
    private const string QuietSet = "Quiet";
    private const int ActivityId = 5313;

    /// <summary>The store (s3://bucket/, az://container/, local://./images/, or a directory path).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Store { get; set; } = "";

    /// <summary>Checks only these images; wildcards allowed.</summary>
    [Parameter(Position = 1)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>Checks only these tags; wildcards allowed.</summary>
    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageTagCompleter))]
    public string[]? Tag { get; set; }

    /// <summary>Also reads every referenced config, layer and chunk and checks it against its digest.</summary>
    [Parameter]
    public SwitchParameter Deep { get; set; }

    /// <summary>Unreferenced objects younger than this are information, older ones warnings.</summary>
    [Parameter]
    [DurationTransformation]
    public TimeSpan GracePeriod { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Returns $true when no problem is an error or a warning, else $false.</summary>
    [Parameter(Mandatory = true, ParameterSetName = QuietSet)]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessRecord()
    {
        var location = OrTerminate(() => ParseStore(Store), Store);
        var (prefix, nameMatch) = NameFilter.From(Name);
        var options = new StoreCheckOptions
        {
            NamePrefix = prefix,
            NameMatch = Name is null ? null : nameMatch,
            TagMatch = Tag is null ? null : NameFilter.Matcher(Tag),
            Deep = Deep,
            GracePeriod = GracePeriod,
        };
        var progress = CreateProgress<StoreCheckProgress>(ActivityId, p => Describe(location.ToString(), p));
        var healthy = true;
        RunOnStoreOrTerminate(location, progress, async (store, ct) =>
        {
            await foreach (var problem in new StoreChecker(store).CheckAsync(options, progress, ct).ConfigureAwait(false))
            {
                if (problem.Severity != ProblemSeverity.Information) healthy = false;
                if (!Quiet) PostObject(problem);
            }
        });
        if (Quiet) WriteObject(healthy);
    }

    private static (string Activity, string Status, int Percent) Describe(string store, StoreCheckProgress p)
    {
        var activity = $"Checking {store}";
        return p.Phase switch
        {
            StoreCheckPhase.Listing => (activity, "Listing objects", -1),
            StoreCheckPhase.CheckingTags => (activity, $"{p.TagsChecked} tag{(p.TagsChecked == 1 ? "" : "s")} checked, {p.Problems} problem{(p.Problems == 1 ? "" : "s")}", -1),
            _ => (activity, $"Verifying: {p.ObjectsVerified} of {p.ObjectsToVerify} objects ({AsyncCmdlet.FormatBytes(p.BytesVerified)}), {p.Problems} problem{(p.Problems == 1 ? "" : "s")}",
                p.ObjectsToVerify == 0 ? -1 : (int)(100 * p.ObjectsVerified / p.ObjectsToVerify)),
        };
    }
}
