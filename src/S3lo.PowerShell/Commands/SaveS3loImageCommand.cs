using System.Management.Automation;
using S3lo.Core;
using S3lo.Core.Catalog;
using S3lo.Core.Docker;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Transfer;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>Saves one platform of an image from a store as an OCI layout, an oci-archive or a docker-archive, or loads it into the Docker daemon.</summary>
[Cmdlet(VerbsData.Save, "S3loImage", DefaultParameterSetName = ReferenceSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(TransferResult))]
public sealed class SaveS3loImageCommand : ImageTargetCmdlet
{
    private const int ProgressActivityId = 5311;

    /// <summary>The directory (OciLayout) or file (archives) to write; it must not exist unless -Force. Not with -Docker.</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    /// <summary>Load the image into the Docker daemon (DOCKER_HOST, else /var/run/docker.sock) instead of writing files.</summary>
    [Parameter]
    public SwitchParameter Docker { get; set; }

    /// <summary>With -Docker, the name to give the image in the daemon; default the reference's name and tag.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ImageName { get; set; }

    /// <summary>OciLayout, OciArchive or DockerArchive; default DockerArchive for a path ending in .tar, else OciLayout.</summary>
    /// <remarks>A string rather than the engine's enum: a field of an engine value type would make PowerShell
    /// load the engine while it scans the module's types, before the dependency loader is in place.</remarks>
    [Parameter]
    [ValidateSet(nameof(ImageFormat.OciLayout), nameof(ImageFormat.OciArchive), nameof(ImageFormat.DockerArchive))]
    public string? Format { get; set; }

    /// <summary>The platform to take from a multi-platform image, such as linux/arm64; default the host's.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImagePlatformCompleter))]
    public string? Platform { get; set; }

    /// <summary>Replace an existing output.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var references = ResolveTargets("save an image");
        if (references.Count != 1)
            ThrowTerminating(new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                $"Save-S3loImage writes one image at a time to -Path; {references.Count} were given.", references[0].ToString()), references);
        var reference = references[0];
        var platform = Platform is null ? null : OrTerminate(() => Core.Oci.Platform.Parse(Platform), Platform);
        if (Docker.IsPresent == (Path is not null))
            ThrowTerminating(new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                "Give either -Path (files to write) or -Docker (load into the Docker daemon).", Path), Path);
        // The name the image gets in an archive, or by default in the daemon; latest for a reference by digest alone.
        var imageName = $"{reference.Name}:{reference.Tag ?? "latest"}";
        var path = Docker ? null : ResolvePath(Path!);
        var format = Format is not null
            ? Enum.Parse<ImageFormat>(Format, ignoreCase: true)
            : path?.EndsWith(".tar", StringComparison.OrdinalIgnoreCase) == true ? ImageFormat.DockerArchive : ImageFormat.OciLayout;
        if (Docker) imageName = ImageName ?? imageName;
        if (!(path is null
                ? ShouldProcess(imageName, $"Load {reference} into the Docker daemon")
                : ShouldProcess(path, $"Save {reference} as {format}"))) return;

        var progress = CreateProgress(ProgressActivityId);
        RunWithProgress(reference, progress, async ct =>
        {
            using var daemon = path is null ? DockerDaemon.FromEnvironment() : null;
            // The output is reserved first: one that exists is refused before the store is read.
            await using var destination = daemon is null
                ? (IImageDestination)ImageWriterDestination.Create(format, path!, imageName, Force)
                : DockerDaemonDestination.Create(daemon, imageName);
            var store = await OpenStoreAsync(reference.Store, ct).ConfigureAwait(false);
            // One platform: the host's from an index unless -Platform names another.
            await using var image = await StoreImageSource.OpenAsync(store, reference, platform ?? Core.Oci.Platform.Host, ct).ConfigureAwait(false);
            PostObject(await ImageTransfer.CopyAsync(image, destination, null, progress, ct).ConfigureAwait(false));
        });
    }
}
