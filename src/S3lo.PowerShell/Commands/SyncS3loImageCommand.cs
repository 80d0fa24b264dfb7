using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Registry;
using S3lo.Core.Storage;
using S3lo.Core.Transfer;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>
/// Mirrors the tags of a registry repository or a store image into a store image or a registry repository: copies each tag
/// the destination lacks or holds with another digest, leaves the others alone without moving a byte, and with -Prune removes
/// the destination's tags that the source no longer has. Tags of an immutable destination image are never overwritten or removed.
/// </summary>
[Cmdlet(VerbsData.Sync, "S3loImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(MirrorResult))]
public sealed class SyncS3loImageCommand : StoreWriteCmdlet
{
    private const int ProgressActivityId = 5316;

    /// <summary>What to mirror: a registry repository (ghcr.io/org/app) or a store image (s3://bucket/app), without a tag.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Source { get; set; } = "";

    /// <summary>Where to: a store image (s3://bucket/mirror/app) or a registry repository, without a tag.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Destination { get; set; } = "";

    /// <summary>The tags to mirror, with wildcards; all when not given. -Prune removes only destination tags these match.</summary>
    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageTagCompleter))]
    public string[] Tag { get; set; } = ["*"];

    /// <summary>Also remove destination tags (among those -Tag matches) that the source no longer has.</summary>
    [Parameter]
    public SwitchParameter Prune { get; set; }

    /// <summary>User name and password (or token) for the registry side; otherwise the Docker config's credentials.</summary>
    [Parameter]
    [Credential]
    public PSCredential? RegistryCredential { get; set; }

    protected override void EndProcessing()
    {
        var source = OrTerminate(() => ParseSide(Source, "-Source"), Source);
        var destination = OrTerminate(() => ParseSide(Destination, "-Destination"), Destination);
        var patterns = Tag.Select(t => new WildcardPattern(t, WildcardOptions.CultureInvariant)).ToArray();

        IReadOnlyList<MirrorStep> steps = [];
        var immutable = false;
        Run(ct => PerItemAsync(Destination, async () =>
        {
            var from = await OpenSideAsync(source, ct).ConfigureAwait(false);
            var to = (IMirrorDestination)await OpenSideAsync(destination, ct).ConfigureAwait(false);
            steps = await ImageMirror.PlanAsync(from, to, tag => patterns.Any(p => p.IsMatch(tag)), Prune, ct).ConfigureAwait(false);
            immutable = await to.IsImmutableAsync(ct).ConfigureAwait(false);
        }));

        var kept = steps.Where(s => s.Action != MirrorAction.Removed).Select(s => s.DestinationDigest).ToHashSet();
        foreach (var step in steps)
        {
            var target = destination.ReferenceOf(step.Tag);
            switch (step.Action)
            {
                case MirrorAction.Unchanged:
                    WriteObject(new MirrorResult
                    {
                        Tag = step.Tag, Action = step.Action, Source = source.ReferenceOf(step.Tag), Destination = target, Digest = step.SourceDigest!.Value.ToString(),
                    });
                    break;
                case MirrorAction.Copied when immutable && step.DestinationDigest is not null:
                    WriteError(Errors.ForItem(new S3loException(ErrorIds.TagImmutable, S3loErrorKind.ResourceExists,
                        $"The image {destination.Text} is immutable (s3lo.yaml): its tag {step.Tag} holds {step.DestinationDigest} and is not overwritten with {step.SourceDigest}.",
                        target), target));
                    break;
                case MirrorAction.Copied:
                    if (ShouldProcess(target, $"Copy {step.SourceDigest} from {source.ReferenceOf(step.Tag)}")) Copy(source, destination, step);
                    break;
                case MirrorAction.Removed when immutable:
                    WriteError(Errors.ForItem(new S3loException(ErrorIds.TagImmutable, S3loErrorKind.ResourceExists,
                        $"The image {destination.Text} is immutable (s3lo.yaml): its tag {step.Tag} is not removed, although the source no longer has it.", target), target));
                    break;
                case MirrorAction.Removed:
                    if (ShouldProcess(target, $"Remove tag (the source no longer has it), digest {step.DestinationDigest}")) Remove(destination, step, kept.Contains(step.DestinationDigest));
                    break;
            }
        }
        base.EndProcessing();
    }

    private void Copy(Side source, Side destination, MirrorStep step)
    {
        var target = destination.ReferenceOf(step.Tag);
        var progress = CreateProgress(ProgressActivityId);
        RunWithProgress(target, progress, async ct =>
        {
            using var sourceClient = source.Registry is null ? null : RegistryClient.For(source.Registry, RegistryOptions());
            using var destinationClient = destination.Registry is null ? null : RegistryClient.For(destination.Registry, RegistryOptions());
            await using IImageSource image = source.Registry is { } registry
                ? await RegistryImageSource.OpenAsync(sourceClient!, registry.WithTag(step.Tag), null, ct).ConfigureAwait(false)
                : await StoreImageSource.OpenAsync(await OpenStoreAsync(source.Store!.Store, ct).ConfigureAwait(false),
                    source.Store.WithTag(step.Tag), null, ct).ConfigureAwait(false);
            // The digest compared is the one copied: a tag moved again since the plan is copied as it is now, and reported so.
            await using IImageDestination to = destination.Registry is { } repository
                ? new RegistryDestination(destinationClient!, repository.WithTag(step.Tag))
                : new StoreDestination(await OpenStoreAsync(destination.Store!.Store, ct).ConfigureAwait(false), destination.Store.WithTag(step.Tag), force: false,
                    LayerChunking.Keep);
            var result = await ImageTransfer.CopyAsync(image, to, null, progress, ct).ConfigureAwait(false);
            PostObject(new MirrorResult
            {
                Tag = step.Tag,
                Action = MirrorAction.Copied,
                Source = source.ReferenceOf(step.Tag),
                Destination = target,
                Digest = result.Digest,
                PreviousDigest = step.DestinationDigest?.ToString(),
                BlobsUploaded = result.BlobsUploaded,
                BytesUploaded = result.BytesUploaded,
            });
        });
    }

    private void Remove(Side destination, MirrorStep step, bool digestShared)
    {
        var target = destination.ReferenceOf(step.Tag);
        Run(ct => PerItemAsync(target, async () =>
        {
            var side = (IMirrorDestination)await OpenSideAsync(destination, ct).ConfigureAwait(false);
            await side.RemoveAsync(step.Tag, step.DestinationDigest!.Value, digestShared, ct).ConfigureAwait(false);
            PostObject(new MirrorResult { Tag = step.Tag, Action = MirrorAction.Removed, Destination = target, Digest = step.DestinationDigest.Value.ToString() });
        }));
    }

    /// <summary>One side as given: a registry repository, or a store image; either without a tag, since -Tag selects the tags.</summary>
    private sealed record Side(string Text, RegistryReference? Registry, ImageReference? Store)
    {
        public string ReferenceOf(string tag) => Registry is { } r ? $"{r.Registry}/{r.Repository}:{tag}" : $"{Store!.Store}{Store.Name}:{tag}";
    }

    private Side ParseSide(string text, string parameter)
    {
        if (RegistryReference.IsRegistryReference(text))
        {
            var last = text[(text.LastIndexOf('/') + 1)..];
            if (last.Contains(':') || last.Contains('@')) throw TagGiven(text, parameter);
            return new Side(text, RegistryReference.Parse(text), null);
        }
        var reference = ParseReference(text).RequireName($"{parameter} of a mirror");
        if (reference.Tag is not null || reference.Digest is not null) throw TagGiven(text, parameter);
        return new Side(text, null, reference);
    }

    private static S3loException TagGiven(string text, string parameter)
        => new(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
            $"{parameter} takes a repository or an image without a tag ('{text}'); choose the tags to mirror with -Tag.", text);

    private readonly List<RegistryClient> _clients = [];

    private async Task<IMirrorSide> OpenSideAsync(Side side, CancellationToken cancellationToken)
    {
        if (side.Registry is { } registry)
        {
            var client = RegistryClient.For(registry, RegistryOptions());
            lock (_clients) _clients.Add(client);
            return new RegistryMirrorSide(client, registry);
        }
        return new StoreMirrorSide(await OpenStoreAsync(side.Store!.Store, cancellationToken).ConfigureAwait(false), side.Store.Name!);
    }

    private RegistryClientOptions RegistryOptions() => new()
    {
        Credentials = RegistryCredential is null ? null : new RegistryCredentials(RegistryCredential.UserName, RegistryCredential.GetNetworkCredential().Password),
    };

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_clients)
            {
                foreach (var client in _clients) client.Dispose();
                _clients.Clear();
            }
        }
        base.Dispose(disposing);
    }
}
