using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Docker;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Transfer;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>Pushes an image from a docker-save archive, an OCI layout, an oci-archive or the Docker daemon into a store.</summary>
[Cmdlet(VerbsCommon.Push, "S3loImage", DefaultParameterSetName = ReferenceSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(TransferResult))]
public sealed class PushS3loImageCommand : StoreWriteCmdlet
{
    private const int ProgressActivityId = 5310;
    private const string DaemonReferenceSet = "DaemonReference";
    private const string DaemonStoreSet = "DaemonStore";

    /// <summary>The archive file or OCI layout directory to push.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = ReferenceSet)]
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = StoreSet)]
    [Alias("FullName", "Source")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>An image in the Docker daemon (DOCKER_HOST, else /var/run/docker.sock), such as myapp:v1.</summary>
    [Parameter(Mandatory = true, ParameterSetName = DaemonReferenceSet)]
    [Parameter(Mandatory = true, ParameterSetName = DaemonStoreSet)]
    [ValidateNotNullOrEmpty]
    public string Image { get; set; } = "";

    /// <summary>Where to push: s3://bucket/name:tag or local://dir/name:tag.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = ReferenceSet)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = DaemonReferenceSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageReferenceCompleter))]
    public string Destination { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = StoreSet)]
    [Parameter(Mandatory = true, ParameterSetName = DaemonStoreSet)]
    [ValidateNotNullOrEmpty]
    public string Store { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = StoreSet)]
    [Parameter(Mandatory = true, ParameterSetName = DaemonStoreSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageNameCompleter))]
    public string Name { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = StoreSet)]
    [Parameter(Mandatory = true, ParameterSetName = DaemonStoreSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImageTagCompleter))]
    public string Tag { get; set; } = "";

    /// <summary>Which image of a layout or archive holding several (its org.opencontainers.image.ref.name).</summary>
    [Parameter(ParameterSetName = ReferenceSet)]
    [Parameter(ParameterSetName = StoreSet)]
    [ValidateNotNullOrEmpty]
    public string? SourceTag { get; set; }

    /// <summary>From a multi-platform source, push only this platform (such as linux/arm64) as a single-platform image.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Platform { get; set; }

    /// <summary>Overwrite the tag even when the image is immutable.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Store layers of 1 MiB or more chunked when the store's policy allows it (the default); -Chunked:$false stores every layer whole.</summary>
    [Parameter]
    public SwitchParameter Chunked { get; set; } = true;

    private bool FromDaemon => ParameterSetName is DaemonReferenceSet or DaemonStoreSet;

    protected override void ProcessRecord()
    {
        var split = ParameterSetName is StoreSet or DaemonStoreSet;
        var destination = OrTerminate(() => (split ? FromParts(Store, Name, Tag) : ParseReference(Destination)).RequireTag("push"),
            split ? Store : Destination);
        var source = FromDaemon ? Image : ResolvePath(Path);
        var platform = Platform is null ? null : OrTerminate(() => Core.Oci.Platform.Parse(Platform), Platform);
        if (!ShouldProcess(destination.ToString(), $"Push image from {(FromDaemon ? "the Docker daemon's " : "")}{source}")) return;

        var progress = CreateProgress(ProgressActivityId);
        RunWithProgress(destination, progress, async ct =>
        {
            using var daemon = FromDaemon ? DockerDaemon.FromEnvironment() : null;
            IImageSource image;
            if (daemon is null)
            {
                image = await ImageSources.OpenAsync(source, SourceTag, ct).ConfigureAwait(false);
            }
            else
            {
                // A daemon holding several platforms for the name gives the host's unless -Platform says otherwise.
                var fromDaemon = await DockerDaemonSource.OpenAsync(daemon, source, platform, ct).ConfigureAwait(false);
                if (platform is null && fromDaemon.HeldPlatforms.Count > 1)
                    PostWarning($"The Docker daemon holds {source} for {string.Join(", ", fromDaemon.HeldPlatforms)}; pushing {fromDaemon.Platform}. Use -Platform to choose another.");
                image = fromDaemon;
            }
            try
            {
                // A source that is not an index comes back as it is.
                if (platform is not null)
                    image = await PlatformImageSource.SelectAsync(image, platform, ct).ConfigureAwait(false);
                var store = await OpenStoreAsync(destination.Store, ct).ConfigureAwait(false);
                await using var target = new StoreDestination(store, destination, Force, Chunked ? LayerChunking.Chunk : LayerChunking.Whole);
                PostObject(await ImageTransfer.CopyAsync(image, target, null, progress, ct).ConfigureAwait(false));
            }
            finally
            {
                await image.DisposeAsync().ConfigureAwait(false);
            }
        });
    }
}
