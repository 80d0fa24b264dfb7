using System.Management.Automation;
using System.Security.Cryptography.X509Certificates;
using S3lo.Core.Signing;
using S3lo.PowerShell.Internal;

namespace S3lo.PowerShell.Commands;

/// <summary>Lists the signature records of tags; with public keys, judges each against the tag's current manifest.</summary>
[Cmdlet(VerbsCommon.Get, "S3loImageSignature", DefaultParameterSetName = ReferenceSet)]
[OutputType(typeof(SignatureInfo))]
public sealed class GetS3loImageSignatureCommand : SignatureCmdlet
{
    private IReadOnlyList<VerificationKey> _keys = [];

    /// <summary>Public keys to judge the records with: PEM files (a public key, a certificate), or KMS keys (awskms:///…, a key ARN).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] PublicKeyPath { get; set; } = [];

    /// <summary>Certificates whose public keys judge the records.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public X509Certificate2[] Certificate { get; set; } = [];

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        _keys = LoadPublicKeys(PublicKeyPath, Certificate);
    }

    protected override void ProcessRecord()
    {
        var targets = ResolveSignedTargets("list its signatures");
        Run(async ct =>
        {
            foreach (var (reference, name) in targets)
            {
                await PerItemAsync(reference.ToString(), async () =>
                {
                    var store = await OpenStoreAsync(reference.Store, ct).ConfigureAwait(false);
                    foreach (var signature in await new ImageSignatures(store).ListAsync(name, _keys, ct).ConfigureAwait(false))
                        PostObject(signature);
                }).ConfigureAwait(false);
            }
        });
    }
}
