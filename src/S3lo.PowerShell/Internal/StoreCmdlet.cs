using System.Management.Automation;
using S3lo.Core.Signing;
using S3lo.Core.Catalog;
using S3lo.Core;
using S3lo.Core.Gc;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Azure;
using S3lo.Core.Storage.Local;
using S3lo.Core.Storage.S3;

namespace S3lo.PowerShell.Internal;

/// <summary>
/// Base of every cmdlet that reaches a store: the connection parameters of each store provider (S3's named as in
/// AWS.Tools), turning references and -Store/-Name/-Tag into store locations, and the stores opened for one run.
/// Cmdlets that write a store derive from <see cref="StoreWriteCmdlet"/>, which adds the storage classes.
/// </summary>
public abstract class StoreCmdlet : AsyncCmdlet
{
    protected const string ReferenceSet = "Reference";
    protected const string StoreSet = "Store";
    protected const string InputObjectSet = "InputObject";

    private readonly Dictionary<StoreLocation, Task<Core.Storage.ImageStore>> _stores = new();
    private readonly object _storesLock = new();

    // S3 (s3://): named as in AWS.Tools.

    /// <summary>An AWS profile from the shared credentials or config file.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ProfileName { get; set; }

    /// <summary>The bucket's region; found automatically when not given.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Region { get; set; }

    /// <summary>The URL of an S3-compatible service (MinIO, Ceph, R2, …), or of the Azure blob service (Azurite, sovereign clouds).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? EndpointUrl { get; set; }

    /// <summary>Access key (user name) and secret key (password).</summary>
    [Parameter]
    [Credential]
    public PSCredential? Credential { get; set; }

    // Azure Blob Storage (az://): named as in Az.Storage.

    /// <summary>The storage account of az:// stores; default AZURE_STORAGE_ACCOUNT.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? StorageAccountName { get; set; }

    /// <summary>The account's access key, for az:// stores.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? StorageAccountKey { get; set; }

    /// <summary>A shared access signature for az:// stores.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SasToken { get; set; }

    /// <summary>A storage connection string for az:// stores; default AZURE_STORAGE_CONNECTION_STRING.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConnectionString { get; set; }

    /// <summary>The connection parameters as given.</summary>
    private ConnectionParameters Connection
        => new(ProfileName, Region, EndpointUrl, Credential, StorageAccountName, StorageAccountKey, SasToken, ConnectionString);

    /// <summary>The Azure settings the connection parameters give; a cmdlet that writes adds its access tiers.</summary>
    private protected virtual AzureConnectionOptions AzureConnection => Connection.Azure;

    /// <summary>The S3 settings the connection parameters give; a cmdlet that writes adds its storage classes.</summary>
    private protected virtual S3ConnectionOptions S3Connection => Connection.S3;

    /// <summary>What parsing a reference needs: local paths resolved against the PowerShell location, and each provider's settings.</summary>
    private StoreContext Context => new(ResolvePath, S3Connection, AzureConnection);

    /// <summary>Parses an s3lo reference; a local path is resolved against the current PowerShell location.</summary>
    protected ImageReference ParseReference(string text)
    {
        if (!ImageReference.LooksLikeReference(text))
            throw new S3loException(ErrorIds.InvalidReference, S3loErrorKind.InvalidArgument,
                $"'{text}' is not a store reference: it must start with {StoreProviders.Describe()} (or use -Store, -Name and -Tag).", text);
        return ImageReference.Parse(text, Context);
    }

    /// <summary>A store given as a reference (<c>s3://bucket/</c>) or as any PowerShell path to a directory.</summary>
    protected StoreLocation ParseStore(string store)
        => ImageReference.LooksLikeReference(store) ? ImageReference.ParseStore(store, Context) : LocalStoreProvider.Location(ResolvePath(store));

    protected ImageReference FromParts(string store, string? name, string? tag, string? digest = null)
        => ImageReference.Create(ParseStore(store), name, tag, digest);

    /// <summary>A PowerShell path as a file system path; a drive or provider that does not exist is a malformed argument.</summary>
    protected string ResolvePath(string path)
    {
        try
        {
            return SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
        }
        catch (SessionStateException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, path));
            throw;
        }
    }

    /// <summary>Opens a store once per cmdlet run; thread-safe, since items may be processed concurrently.</summary>
    protected Task<Core.Storage.ImageStore> OpenStoreAsync(StoreLocation location, CancellationToken cancellationToken)
    {
        lock (_storesLock)
        {
            if (!_stores.TryGetValue(location, out var store) || store.IsFaulted || store.IsCanceled)
                _stores[location] = store = Core.Storage.ImageStore.OpenAsync(location, cancellationToken);
            return store;
        }
    }

    /// <summary>Turns an engine failure during parameter handling into the terminating error it is.</summary>
    protected void ThrowTerminating(S3loException e, object? target) => ThrowTerminatingError(Errors.From(e, target));

    /// <summary>Runs argument handling; a malformed argument is a terminating error about <paramref name="target"/>.</summary>
    protected T OrTerminate<T>(Func<T> parse, object? target)
    {
        try
        {
            return parse();
        }
        catch (S3loException e)
        {
            ThrowTerminating(e, target);
            throw;
        }
    }

    /// <summary>
    /// The images one record names, from whichever parameter set was bound: piped images (which keep their
    /// store connection), reference strings, or -Store/-Name/-Tag. Each must name an image and a tag or a
    /// digest; anything malformed is a terminating error, raised before any store is touched.
    /// </summary>
    protected IReadOnlyList<ImageReference> ResolveImages(string action, IReadOnlyList<ImageInfo> inputObjects, IReadOnlyList<string> references,
        Func<ImageReference> fromParts)
    {
        return OrTerminate(() =>
        {
            List<ImageReference> resolved = ParameterSetName switch
            {
                InputObjectSet => inputObjects.Select(i => i.ToReference()).ToList(),
                StoreSet => [fromParts()],
                _ => references.Select(ParseReference).ToList(),
            };
            foreach (var reference in resolved) reference.RequireTagOrDigest(action);
            return resolved;
        }, inputObjects.FirstOrDefault()?.Reference ?? references.FirstOrDefault());
    }

    /// <summary>For a listing of <paramref name="location"/>: a tag that cannot be read becomes a non-terminating error about
    /// that tag, and the listing goes on.</summary>
    protected Action<TagEntry, S3loException> TagError(StoreLocation location)
        => (tag, e) => PostError(Errors.ForItem(e, $"{location}{tag.Name}:{tag.Tag}"));

    /// <summary>
    /// Asks whether to remove the unreferenced blobs of <paramref name="location"/> older than <paramref name="gracePeriod"/>.
    /// False when declined; under -WhatIf true, with <paramref name="whatIf"/> set so that they are only listed.
    /// </summary>
    protected bool ShouldCollect(StoreLocation location, TimeSpan gracePeriod, out bool whatIf)
    {
        var remove = ShouldProcess($"Removing the unreferenced blobs of {location} older than {gracePeriod}.",
            $"Remove the unreferenced blobs of {location} older than {gracePeriod}?", MyInvocation.MyCommand.Name, out var reason);
        whatIf = !remove;
        return remove || reason == ShouldProcessReason.WhatIf;
    }

    /// <summary>
    /// Collects the unreferenced blobs of <paramref name="location"/> (only lists them when <paramref name="whatIf"/>), writing
    /// progress and handing each blob to <paramref name="swept"/>; a failure is a non-terminating error about the store.
    /// Returns the collection's last progress report, null when it failed before the first.
    /// </summary>
    protected GcProgress? CollectBlobs(StoreLocation location, TimeSpan gracePeriod, bool whatIf, Action<SweptBlob> swept)
    {
        var progress = CreateProgress<GcProgress>(GcProgressView.ActivityId, p => GcProgressView.Describe(location.ToString(), p));
        RunWithProgress(location, progress, async ct =>
        {
            var store = await OpenStoreAsync(location, ct).ConfigureAwait(false);
            var options = new GcOptions { GracePeriod = gracePeriod, WhatIf = whatIf };
            await foreach (var blob in new GarbageCollector(store).CollectAsync(options, progress, ct).ConfigureAwait(false))
                swept(blob);
        });
        return progress.Latest;
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the store at <paramref name="location"/>, ending <paramref name="progress"/>'s activity
    /// once it is done or has failed. For cmdlets whose result means nothing unless the whole store was read (a check, a
    /// measurement), an S3lo failure is a terminating error about the store rather than a result.
    /// </summary>
    private protected void RunOnStoreOrTerminate<T>(StoreLocation location, AsyncCmdlet.ProgressSink<T> progress,
        Func<Core.Storage.ImageStore, CancellationToken, Task> work) where T : class
    {
        try
        {
            Run(async ct =>
            {
                try
                {
                    await work(await OpenStoreAsync(location, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
                }
                finally
                {
                    progress.Complete();
                }
            });
        }
        catch (S3loException e)
        {
            ThrowTerminating(e, location.ToString());
        }
    }

    /// <summary>
    /// The public keys of <paramref name="paths"/> (PEM files, or KMS keys by <c>awskms:///…</c> or ARN, reached with the
    /// cmdlet's AWS parameters) and of <paramref name="certificates"/>; a key that cannot be read is a terminating error.
    /// </summary>
    protected IReadOnlyList<VerificationKey> LoadPublicKeys(IReadOnlyList<string> paths, IReadOnlyList<System.Security.Cryptography.X509Certificates.X509Certificate2> certificates)
    {
        var keys = new List<VerificationKey>();
        foreach (var path in paths)
        {
            if (KmsKey.IsKmsReference(path))
            {
                using var kms = OrTerminate(() => KmsKey.OpenAsync(path, S3Connection, CancellationToken.None).GetAwaiter().GetResult(), path);
                keys.Add(kms.PublicKey);
            }
            else
            {
                keys.Add(OrTerminate(() => VerificationKey.FromFile(ResolvePath(path), path), path));
            }
        }
        foreach (var certificate in certificates)
            keys.Add(OrTerminate(() => VerificationKey.FromCertificate(certificate, "x509:" + certificate.Thumbprint), certificate));
        return keys;
    }

    protected override void EndProcessing()
    {
        base.EndProcessing();
        DisposeStores();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) DisposeStores();
        base.Dispose(disposing);
    }

    private void DisposeStores()
    {
        List<Task<Core.Storage.ImageStore>> open;
        lock (_storesLock)
        {
            open = _stores.Values.ToList();
            _stores.Clear();
        }
        foreach (var store in open.Where(s => s.IsCompletedSuccessfully))
            store.Result.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
