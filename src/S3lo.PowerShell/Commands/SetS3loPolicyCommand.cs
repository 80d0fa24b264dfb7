using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Policy;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>
/// Changes a store's s3lo.yaml for the whole store or one image or pattern. Only the keys given change;
/// comments and keys S3lo does not know stay. Concurrent changes are never lost.
/// </summary>
[Cmdlet(VerbsCommon.Set, "S3loPolicy", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(PolicyEntry))]
public sealed class SetS3loPolicyCommand : StoreWriteCmdlet
{
    /// <summary>The store (s3://bucket/, local://./images/, or a directory path).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Store { get; set; } = "";

    /// <summary>An image name or a pattern such as dev/* ('*' and '?' do not match '/'); without it, the store default.</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageNameCompleter))]
    public string? Name { get; set; }

    /// <summary>Tags of the image may not be overwritten or removed (-Immutable:$false to allow it explicitly).</summary>
    [Parameter]
    public SwitchParameter Immutable { get; set; }

    /// <summary>How many of the newest tags a prune always keeps.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int KeepLast { get; set; }

    /// <summary>Beyond KeepLast, tags older than this are pruned: a TimeSpan or 90d, 168h, 30m.</summary>
    [Parameter]
    [DurationTransformation]
    public TimeSpan MaxAge { get; set; }

    /// <summary>Tags a prune never removes and does not count.</summary>
    [Parameter]
    [AllowEmptyCollection]
    public string[] KeepTags { get; set; } = [];

    /// <summary>Store-wide: whether pushes store layers chunked (store scope only).</summary>
    [Parameter]
    public SwitchParameter Chunked { get; set; }

    /// <summary>Keys to unset in this scope; All removes the whole section.</summary>
    [Parameter]
    [ValidateSet("Immutable", "KeepLast", "MaxAge", "KeepTags", "Chunked", "All")]
    public string[] Clear { get; set; } = [];

    /// <summary>Write the changed section to the pipeline.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var location = OrTerminate(() => ParseStore(Store), Store);
        var scope = OrTerminate(() => Name is null ? PolicyScope.Store : PolicyScope.Image(Name), Name);
        var edits = Edits(scope);
        if (edits.Count == 0)
            ThrowTerminating(new S3loException(ErrorIds.InvalidPolicy, S3loErrorKind.InvalidArgument,
                "Nothing to change: give a value (-Immutable, -KeepLast, -MaxAge, -KeepTags, -Chunked) or -Clear.", scope.ToString()), scope.ToString());
        // Applying the edits to an empty document first turns a bad value into a terminating error before any I/O.
        OrTerminate(() => Apply(PolicyDocument.Parse(null), edits), scope.ToString());
        if (!ShouldProcess($"{location}{PolicyStore.Key} {scope}", string.Join(", ", edits.Select(e => e.Description)))) return;

        Run(ct => PerItemAsync(location, async () =>
        {
            var store = await OpenStoreAsync(location, ct).ConfigureAwait(false);
            var written = await new PolicyStore(store.Objects).UpdateAsync(document => Apply(document, edits), ct).ConfigureAwait(false);
            if (PassThru && PolicyEntry.From(written, location).FirstOrDefault(e => scope.Pattern is null ? e.IsDefault : !e.IsDefault && e.Scope == scope.Pattern) is { } entry)
                PostObject(entry);
        }));
    }

    private sealed record Edit(string Description, Action<PolicyDocument> Apply);

    private List<Edit> Edits(PolicyScope scope)
    {
        var bound = MyInvocation.BoundParameters;
        var edits = new List<Edit>();
        if (Clear.Contains("All")) edits.Add(new("remove the section", d => d.RemoveScope(scope)));
        foreach (var key in Clear.Where(c => c != "All").Select(Enum.Parse<PolicyKey>))
            edits.Add(new($"unset {key}", d => d.Unset(scope, key)));
        if (bound.ContainsKey(nameof(Immutable))) edits.Add(new($"immutable: {Immutable.IsPresent}", d => d.Set(scope, PolicyKey.Immutable, Immutable.IsPresent)));
        if (bound.ContainsKey(nameof(KeepLast))) edits.Add(new($"keep_last: {KeepLast}", d => d.Set(scope, PolicyKey.KeepLast, KeepLast)));
        if (bound.ContainsKey(nameof(MaxAge))) edits.Add(new($"max_age: {PolicyDuration.Format(MaxAge)}", d => d.Set(scope, PolicyKey.MaxAge, MaxAge)));
        if (bound.ContainsKey(nameof(KeepTags))) edits.Add(new($"keep_tags: [{string.Join(", ", KeepTags)}]", d => d.Set(scope, PolicyKey.KeepTags, KeepTags)));
        if (bound.ContainsKey(nameof(Chunked))) edits.Add(new($"chunked: {Chunked.IsPresent}", d => d.Set(scope, PolicyKey.Chunked, Chunked.IsPresent)));
        return edits;
    }

    private static PolicyDocument Apply(PolicyDocument document, List<Edit> edits)
    {
        foreach (var edit in edits) edit.Apply(document);
        return document;
    }
}
