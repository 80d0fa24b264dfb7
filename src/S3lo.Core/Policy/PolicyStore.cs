using System.Text;
using S3lo.Core.Storage;

namespace S3lo.Core.Policy;

/// <summary>
/// A store's <c>s3lo.yaml</c>: read it, and change it without losing a concurrent writer's change — every
/// update is a conditional write of the version it read (create-only when there was none), retried on a race.
/// </summary>
public sealed class PolicyStore(IObjectStore objects)
{
    public const string Key = "s3lo.yaml";
    private const int MaxAttempts = 20;
    private const long MaxBytes = 1 << 20;

    /// <summary>The store's policy; an absent file is an empty policy.</summary>
    public async Task<PolicyDocument> ReadAsync(CancellationToken cancellationToken)
        => (await ReadVersionAsync(cancellationToken).ConfigureAwait(false)).Document;

    /// <summary>Applies <paramref name="edit"/> to the current file and writes the result; returns what was written.</summary>
    public async Task<PolicyDocument> UpdateAsync(Action<PolicyDocument> edit, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (document, etag) = await ReadVersionAsync(cancellationToken).ConfigureAwait(false);
            edit(document);
            var condition = etag is null ? WriteCondition.IfNotExists : WriteCondition.IfUnchanged(etag);
            try
            {
                await objects.PutBytesAsync(Key, Encoding.UTF8.GetBytes(document.ToYaml()), ObjectClass.Metadata, condition, cancellationToken)
                    .ConfigureAwait(false);
                return document;
            }
            catch (PreconditionFailedException) when (attempt < MaxAttempts)
            {
                // Someone else wrote the file since it was read: apply the edit again to their version.
                await Task.Delay(Random.Shared.Next(10, 50 * attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<(PolicyDocument Document, string? ETag)> ReadVersionAsync(CancellationToken cancellationToken)
    {
        var stored = await objects.GetBytesAsync(Key, MaxBytes, cancellationToken).ConfigureAwait(false);
        return stored is null
            ? (PolicyDocument.Parse(null), null)
            : (PolicyDocument.Parse(new UTF8Encoding(false).GetString(stored.Bytes)), stored.Info.ETag);
    }
}
