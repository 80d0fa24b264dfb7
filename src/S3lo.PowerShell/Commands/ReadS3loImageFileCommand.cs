using System.Management.Automation;
using System.Text;
using S3lo.Core;
using S3lo.Core.Files;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>
/// Reads one file out of an image in a store, as Get-Content reads a file: lines, one string (-Raw), the bytes (-AsByteStream),
/// or into a file (-OutFile). Links are followed inside the image.
/// </summary>
[Cmdlet(VerbsCommunications.Read, "S3loImageFile", DefaultParameterSetName = ReferenceSet)]
[OutputType(typeof(string), typeof(byte[]))]
public sealed class ReadS3loImageFileCommand : ImageTargetCmdlet
{
    /// <summary>The file to read, absolute in the image (such as /etc/os-release); no wildcards.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Return the content as one string instead of lines.</summary>
    [Parameter]
    public SwitchParameter Raw { get; set; }

    /// <summary>Return the content as one byte array.</summary>
    [Parameter]
    public SwitchParameter AsByteStream { get; set; }

    /// <summary>Write the content to this file instead of the pipeline; it appears only once complete.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutFile { get; set; }

    /// <summary>With -OutFile, replace an existing file.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>The text encoding for lines and -Raw; default UTF-8. A byte order mark in the file wins.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(EncodingCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Encoding { get; set; }

    /// <summary>For an index, the platform to read from (such as linux/arm64); default the host's.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ImagePlatformCompleter))]
    public string? Platform { get; set; }

    protected override void ProcessRecord()
    {
        var platform = Platform is null ? null : OrTerminate(() => Core.Oci.Platform.Parse(Platform), Platform);
        var references = ResolveTargets("read a file of an image");
        var encoding = OrTerminate(() => ResolveEncoding(Encoding), Encoding);
        OrTerminate(() => ImagePath.Normalize(Path), Path);
        if (Raw && AsByteStream) ThrowInvalid("Give -Raw (one string) or -AsByteStream (bytes), not both.", Path);
        if (OutFile is not null && (Raw || AsByteStream || Encoding is not null))
            ThrowInvalid("-OutFile writes the bytes as they are; -Raw, -AsByteStream and -Encoding do not apply.", OutFile);
        if (OutFile is null && Force) ThrowInvalid("-Force replaces an existing -OutFile; give -OutFile too.", Path);
        if (OutFile is not null && references.Count != 1) ThrowInvalid($"-OutFile takes the file of one image; {references.Count} were given.", OutFile);
        var outFile = OutFile is null ? null : ResolvePath(OutFile);

        Run(async ct =>
        {
            foreach (var reference in references)
            {
                await PerItemAsync(reference, async () =>
                {
                    var store = await OpenStoreAsync(reference.Store, ct).ConfigureAwait(false);
                    var files = await ImageFileSystem.OpenAsync(store, reference, platform, ct).ConfigureAwait(false);
                    if (outFile is not null)
                    {
                        await files.SaveFileAsync(Path, outFile, Force, ct).ConfigureAwait(false);
                        return;
                    }
                    using var content = new MemoryStream();
                    await files.CopyFileAsync(Path, content, ct).ConfigureAwait(false);
                    if (AsByteStream)
                    {
                        PostObject(content.ToArray());
                        return;
                    }
                    content.Position = 0;
                    using var reader = new StreamReader(content, encoding, detectEncodingFromByteOrderMarks: true);
                    if (Raw)
                    {
                        PostObject(await reader.ReadToEndAsync(ct).ConfigureAwait(false));
                        return;
                    }
                    while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line) PostObject(line);
                }).ConfigureAwait(false);
            }
        });
    }

    private void ThrowInvalid(string message, object? target)
        => ThrowTerminating(new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument, message, target), target);

    /// <summary>The encodings Get-Content names, or any name or code page .NET knows.</summary>
    private static Encoding ResolveEncoding(string? name)
    {
        switch (name?.ToLowerInvariant())
        {
            case null or "utf8" or "utf-8" or "utf8nobom" or "utf8bom": return new UTF8Encoding(false);
            case "ascii": return System.Text.Encoding.ASCII;
            case "unicode": return System.Text.Encoding.Unicode;
            case "bigendianunicode": return System.Text.Encoding.BigEndianUnicode;
            case "utf32": return System.Text.Encoding.UTF32;
            case "latin1": return System.Text.Encoding.Latin1;
        }
        try
        {
            return int.TryParse(name, out var codePage) ? System.Text.Encoding.GetEncoding(codePage) : System.Text.Encoding.GetEncoding(name);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            throw new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument, $"'{name}' is not an encoding this system knows.", name, e);
        }
    }
}
