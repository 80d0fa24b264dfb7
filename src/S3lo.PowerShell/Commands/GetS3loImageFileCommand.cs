using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Files;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>Lists the merged filesystem of an image: its layers applied in order, whiteouts applied, an upper layer winning.</summary>
[Cmdlet(VerbsCommon.Get, "S3loImageFile", DefaultParameterSetName = ReferenceSet)]
[OutputType(typeof(ImageFileInfo))]
public sealed class GetS3loImageFileCommand : ImageTargetCmdlet
{
    /// <summary>The paths to list, absolute in the image; wildcards allowed. Default every entry.</summary>
    [Parameter(Position = 1)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = ["*"];

    /// <summary>For an index, the platform to list (such as linux/arm64); default the host's.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImagePlatformCompleter))]
    public string? Platform { get; set; }

    protected override void ProcessRecord()
    {
        var platform = Platform is null ? null : OrTerminate(() => Core.Oci.Platform.Parse(Platform), Platform);
        var references = ResolveTargets("list the files of an image");
        // A literal path names one entry, normalised; a pattern is matched against the absolute paths as it is.
        var patterns = OrTerminate(() => Path.Select(p => WildcardPattern.ContainsWildcardCharacters(p)
            ? (Text: p, Pattern: new WildcardPattern(p.StartsWith('/') ? p : "/" + p, WildcardOptions.CultureInvariant), Literal: (string?)null)
            : (Text: p, Pattern: (WildcardPattern?)null, Literal: ImagePath.Normalize(p))).ToList(), Path);

        Run(async ct =>
        {
            foreach (var reference in references)
            {
                await PerItemAsync(reference, async () =>
                {
                    var store = await OpenStoreAsync(reference.Store, ct).ConfigureAwait(false);
                    var files = await ImageFileSystem.OpenAsync(store, reference, platform, ct).ConfigureAwait(false);
                    foreach (var file in files.Files)
                    {
                        if (patterns.Any(p => p.Pattern?.IsMatch(file.Path) ?? p.Literal == file.Path)) PostObject(file);
                    }
                    foreach (var missing in patterns.Where(p => p.Literal is not null && p.Literal != ImagePath.Root && files.Find(p.Literal) is null))
                        PostError(Errors.From(new S3loException(ErrorIds.FileNotFound, S3loErrorKind.NotFound,
                            $"'{missing.Text}' does not exist in {reference}.", missing.Text), missing.Text));
                }).ConfigureAwait(false);
            }
        });
    }
}
