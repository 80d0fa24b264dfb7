using System.Management.Automation;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using S3lo.Core;
using S3lo.Core.Server;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>Serves one store as a read-only OCI registry in the foreground until Ctrl+C (or Stop-Job).</summary>
[Cmdlet(VerbsLifecycle.Start, "S3loServer", DefaultParameterSetName = PlainSet)]
[OutputType(typeof(ServerEndpoint))]
public sealed class StartS3loServerCommand : StoreCmdlet
{
    private const string PlainSet = "Plain";
    private const string PemSet = "PemCertificate";
    private const string CertificateSet = "Certificate";

    /// <summary>The store to serve: s3://bucket/, az://container/, local://path/ or a directory.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Store { get; set; } = "";

    /// <summary>The TCP port; 0 picks a free one, reported in the output.</summary>
    [Parameter]
    [ValidateRange(0, 65535)]
    public int Port { get; set; } = 5000;

    /// <summary>The address to listen on; default 127.0.0.1.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>Users allowed in by Basic authentication; without any, every request is served.</summary>
    [Parameter]
    [Alias("ClientCredential")]
    public PSCredential[] Authentication { get; set; } = [];

    /// <summary>Serve an address other than loopback without authentication.</summary>
    [Parameter]
    public SwitchParameter AllowAnonymous { get; set; }

    /// <summary>A PEM certificate (chain) for HTTPS.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PemSet)]
    [ValidateNotNullOrEmpty]
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of -CertificatePath, when it is not in that file.</summary>
    [Parameter(ParameterSetName = PemSet)]
    [ValidateNotNullOrEmpty]
    public string? CertificateKeyPath { get; set; }

    /// <summary>A certificate with its private key for HTTPS.</summary>
    [Parameter(Mandatory = true, ParameterSetName = CertificateSet)]
    public X509Certificate2? Certificate { get; set; }

    /// <summary>How long tags, manifests and each repository's blob list are cached; default 10 seconds.</summary>
    [Parameter]
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests served at once; default 32.</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int MaxConcurrentRequests { get; set; } = 32;

    /// <summary>Serve only images signed by one of the -PublicKeyPath keys; anything else is answered 403 DENIED.</summary>
    [Parameter]
    public SwitchParameter RequireSignature { get; set; }

    /// <summary>With -RequireSignature: the public keys (PEM files, certificates, or KMS keys by awskms:///… or ARN).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] PublicKeyPath { get; set; } = [];

    /// <summary>Answer a GET of a whole blob with a 307 to a presigned (S3) or SAS (Azure) URL, so the bytes go from the
    /// store to the client directly; refused on a local store.</summary>
    [Parameter]
    public SwitchParameter Redirect { get; set; }

    /// <summary>How long a -Redirect URL stays valid, from 10 seconds to 7 days (S3's limit); default 5 minutes.</summary>
    [Parameter]
    public TimeSpan RedirectDuration { get; set; } = TimeSpan.FromMinutes(5);

    protected override void ProcessRecord()
    {
        if (RequireSignature != (PublicKeyPath.Length > 0))
            ThrowTerminating(new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                "-RequireSignature and -PublicKeyPath go together: give the keys whose signatures the server requires.", null), null);
        var signatureKeys = LoadPublicKeys(PublicKeyPath, []);
        var location = OrTerminate(() => ParseStore(Store), Store);
        if (!IPAddress.TryParse(ListenAddress, out var address))
            ThrowTerminating(new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                $"'{ListenAddress}' is not an IP address.", ListenAddress), ListenAddress);
        if (RedirectDuration < TimeSpan.FromSeconds(10) || RedirectDuration > TimeSpan.FromDays(7))
            ThrowTerminating(new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                $"-RedirectDuration {RedirectDuration} is outside 10 seconds to 7 days (the longest an S3 presigned URL can live).", RedirectDuration), RedirectDuration);
        var certificate = ParameterSetName switch
        {
            PemSet => OrTerminate(() => ServerCertificates.FromPemFiles(ResolvePath(CertificatePath!), CertificateKeyPath is null ? null : ResolvePath(CertificateKeyPath)), CertificatePath),
            CertificateSet => Certificate,
            _ => null,
        };
        var options = new RegistryServerOptions
        {
            ListenAddress = address!,
            Port = Port,
            Credentials = Authentication.Select(c => new NetworkCredential(c.UserName, c.GetNetworkCredential().Password)).ToList(),
            AllowAnonymous = AllowAnonymous,
            Certificate = certificate,
            CacheDuration = CacheDuration,
            MaxConcurrentRequests = MaxConcurrentRequests,
            RedirectDuration = Redirect ? RedirectDuration : null,
            Log = line => Post(() => WriteVerbose(line)),
            RequiredSignatureKeys = signatureKeys,
            SignatureStore = location.Scheme == "local" ? WrittenLocalRoot(Store) : null,
        };

        // A store that cannot be opened or a port that cannot be bound is an error about the store; Ctrl+C (or Stop-Job)
        // cancels ct, and the server stops taking connections and lets requests in flight finish.
        Run(ct => PerItemAsync(location, async () =>
        {
            var store = await OpenStoreAsync(location, ct).ConfigureAwait(false);
            await using var server = new StoreRegistryServer(store, options);
            PostObject(server.Start());
            await server.RunAsync(ct).ConfigureAwait(false);
        }));
    }

    /// <summary>A local store's root as written (what its signatures name): <c>./store</c> for <c>local://./store/</c> or <c>./store</c>.</summary>
    private static string WrittenLocalRoot(string store)
        => (store.StartsWith("local://", StringComparison.OrdinalIgnoreCase) ? store["local://".Length..] : store).TrimEnd('/', '\\');
}
