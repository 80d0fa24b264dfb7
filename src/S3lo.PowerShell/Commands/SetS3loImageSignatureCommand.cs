using System.Management.Automation;
using System.Net;
using System.Security;
using System.Security.Cryptography.X509Certificates;
using S3lo.Core;
using S3lo.Core.Signing;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>
/// Signs tags: writes a signature record of the manifest each tag holds now (docs/format.md, "Signing records"), with a
/// key file (PEM or cosign), a certificate's private key, or an AWS KMS key.
/// </summary>
[Cmdlet(VerbsCommon.Set, "S3loImageSignature", DefaultParameterSetName = ReferenceSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(SignatureInfo))]
public sealed class SetS3loImageSignatureCommand : SignatureCmdlet
{
    private ISigner? _signer;

    /// <summary>The private key: a PEM file (ECDSA P-256 or RSA), a cosign key file, or a KMS key (awskms:///alias/name, awskms:///arn:…, or a key ARN).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? KeyPath { get; set; }

    /// <summary>A certificate with its private key (ECDSA P-256 or RSA), for example from Cert:\CurrentUser\My.</summary>
    [Parameter]
    [ValidateNotNull]
    public X509Certificate2? Certificate { get; set; }

    /// <summary>The password of an encrypted key file; default COSIGN_PASSWORD.</summary>
    [Parameter]
    [ValidateNotNull]
    public SecureString? Password { get; set; }

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        if ((KeyPath is null) == (Certificate is null))
            ThrowTerminating(new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                "Give the signing key with -KeyPath (a key file or a KMS key) or -Certificate, one of them.", null), null);
        _signer = Certificate is not null
            ? OrTerminate(() => LocalSigner.FromCertificate(Certificate), Certificate)
            : KmsKey.IsKmsReference(KeyPath!)
                ? OrTerminate(() => KmsKey.OpenAsync(KeyPath!, S3Connection, CancellationToken.None).GetAwaiter().GetResult(), KeyPath)
                : OrTerminate(() => LocalSigner.FromFile(ResolvePath(KeyPath!), KeyPath!, ReadPassword), KeyPath);
    }

    private string? ReadPassword()
        => Password is not null ? new NetworkCredential("", Password).Password : Environment.GetEnvironmentVariable("COSIGN_PASSWORD");

    protected override void ProcessRecord()
    {
        var signer = _signer!;
        var targets = ResolveSignedTargets("sign it");
        var chosen = targets.Where(t => ShouldProcess(t.Reference.ToString(), $"Sign with key {signer.PublicKey.KeyId} ({signer.KeyRef})")).ToList();
        Run(async ct =>
        {
            foreach (var (reference, name) in chosen)
            {
                await PerItemAsync(reference.ToString(), async () =>
                {
                    var store = await OpenStoreAsync(reference.Store, ct).ConfigureAwait(false);
                    PostObject(await new ImageSignatures(store).SignAsync(name, signer, ct).ConfigureAwait(false));
                }).ConfigureAwait(false);
            }
        });
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) (_signer as IDisposable)?.Dispose();
        base.Dispose(disposing);
    }
}
