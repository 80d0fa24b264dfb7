using System.Management.Automation;
using System.Security.Cryptography.X509Certificates;
using S3lo.Core;
using S3lo.Core.Signing;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>
/// Whether one key signed the manifest each tag holds now: $true or $false, or with -Detailed the verdict and its reason.
/// Anything that keeps the verdict from being known (a store that cannot be reached, a tag that is not there) is a
/// terminating error, never $false.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "S3loImageSignature", DefaultParameterSetName = ReferenceSet)]
[OutputType(typeof(bool), typeof(SignatureVerification))]
public sealed class TestS3loImageSignatureCommand : SignatureCmdlet
{
    private VerificationKey? _key;

    /// <summary>The public key: a PEM file (a public key or a certificate), or a KMS key (awskms:///…, a key ARN).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PublicKeyPath { get; set; }

    /// <summary>A certificate whose public key is the one to check.</summary>
    [Parameter]
    [ValidateNotNull]
    public X509Certificate2? Certificate { get; set; }

    /// <summary>Return the verdict with its status and reason instead of a boolean.</summary>
    [Parameter]
    public SwitchParameter Detailed { get; set; }

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        if ((PublicKeyPath is null) == (Certificate is null))
            ThrowTerminating(new S3loException(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                "Give the key to check with -PublicKeyPath or -Certificate, one of them.", null), null);
        _key = LoadPublicKeys(PublicKeyPath is null ? [] : [PublicKeyPath], Certificate is null ? [] : [Certificate])[0];
    }

    protected override void ProcessRecord()
    {
        var key = _key!;
        var targets = ResolveSignedTargets("check its signature");
        S3loException? failure = null;
        object? failedTarget = null;
        Run(async ct =>
        {
            foreach (var (reference, name) in targets)
            {
                try
                {
                    var store = await OpenStoreAsync(reference.Store, ct).ConfigureAwait(false);
                    var verdict = await new ImageSignatures(store).VerifyAsync(name, key, ct).ConfigureAwait(false);
                    PostObject(Detailed ? verdict : verdict.IsValid);
                }
                catch (S3loException e)
                {
                    (failure, failedTarget) = (e, reference.ToString());
                    return;
                }
            }
        });
        if (failure is not null) ThrowTerminating(failure, failedTarget);
    }
}
