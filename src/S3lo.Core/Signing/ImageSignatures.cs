using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Signing;

/// <summary>What a signature record is worth against a key and the tag's current manifest.</summary>
public enum SignatureStatus
{
    /// <summary>The key signed this tag's current manifest, in this place.</summary>
    Valid,
    /// <summary>The signature does not verify: the record was altered, or it was made for another tag, image or store.</summary>
    Invalid,
    /// <summary>A good signature of a manifest the tag no longer holds: the tag was pushed again since.</summary>
    ManifestChanged,
    /// <summary>The record is by a key other than the ones given.</summary>
    UnknownKey,
    /// <summary>The record is not a schemaVersion 2 record this version reads.</summary>
    UnsupportedSchema,
    /// <summary>(Test-S3loImageSignature) No record of the key is there.</summary>
    NotSigned,
}

/// <summary>One signature record of a tag, as Get-S3loImageSignature lists it; Status only when keys were given.</summary>
public sealed record SignatureInfo
{
    public required string Reference { get; init; }
    public required string KeyId { get; init; }
    public string? Algorithm { get; init; }
    public string? KeyRef { get; init; }
    public DateTimeOffset? SignedAt { get; init; }
    /// <summary>The manifest digest the record says was signed.</summary>
    public string? Digest { get; init; }
    public SignatureStatus? Status { get; init; }
    /// <summary>The record's object key in the store.</summary>
    public required string Key { get; init; }
}

/// <summary>The verdict of Test-S3loImageSignature -Detailed for one key.</summary>
public sealed record SignatureVerification
{
    public required string Reference { get; init; }
    public required bool IsValid { get; init; }
    public required SignatureStatus Status { get; init; }
    public required string KeyId { get; init; }
    /// <summary>The tag's current manifest digest, which a valid signature covers.</summary>
    public required string Digest { get; init; }
    public DateTimeOffset? SignedAt { get; init; }
    public required string Reason { get; init; }
}

/// <summary>Signs tags and checks their signature records (docs/format.md, "Signing records").</summary>
public sealed class ImageSignatures(ImageStore store)
{
    /// <summary>
    /// Signs the manifest the tag holds now and writes the record. If the tag is pushed again while this signs (before or
    /// just after the record is written), fails with <c>TagChanged</c> and leaves no record of this signing.
    /// </summary>
    public async Task<SignatureInfo> SignAsync(SignedName name, ISigner signer, CancellationToken cancellationToken)
    {
        var reference = ReferenceOf(name);
        var digest = await CurrentDigestAsync(name, cancellationToken).ConfigureAwait(false) ?? throw ImageStore.ImageNotFound(reference);
        var signature = await signer.SignAsync(SignaturePayload.Build(name, digest), cancellationToken).ConfigureAwait(false);
        await EnsureUnchangedAsync(name, digest, cancellationToken).ConfigureAwait(false);

        var record = new SignatureRecord(SignatureRecord.CurrentSchemaVersion, digest.ToString(), signer.KeyRef, signer.PublicKey.KeyId,
            signer.Algorithm, signature, DateTimeOffset.UtcNow);
        var key = RecordKey(name, signer.PublicKey.KeyId);
        await store.Objects.PutBytesAsync(key, record.ToJson(), ObjectClass.Metadata, cancellationToken).ConfigureAwait(false);
        try
        {
            await EnsureUnchangedAsync(name, digest, cancellationToken).ConfigureAwait(false);
        }
        catch (S3loException e) when (e.ErrorId == ErrorIds.TagChanged)
        {
            await store.Objects.DeleteAsync([key], CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        return Describe(reference, key, record, null);
    }

    /// <summary>Every record of the tag; with <paramref name="keys"/>, each with its status against the current manifest.</summary>
    public async Task<IReadOnlyList<SignatureInfo>> ListAsync(SignedName name, IReadOnlyList<VerificationKey> keys, CancellationToken cancellationToken)
    {
        var reference = ReferenceOf(name);
        var digest = await CurrentDigestAsync(name, cancellationToken).ConfigureAwait(false) ?? throw ImageStore.ImageNotFound(reference);
        var result = new List<SignatureInfo>();
        foreach (var o in await store.ListSignaturesAsync(name.Name, name.Tag, cancellationToken).ConfigureAwait(false))
        {
            if (!o.Key.EndsWith(".json", StringComparison.Ordinal)) continue;
            var stored = await store.Objects.GetBytesAsync(o.Key, SignatureRecord.MaxBytes, cancellationToken).ConfigureAwait(false);
            if (stored is null) continue;
            var record = SignatureRecord.TryParse(stored.Bytes);
            if (record is null)
            {
                var fileKeyId = o.Key[(o.Key.LastIndexOf('/') + 1)..^".json".Length];
                result.Add(new SignatureInfo
                {
                    Reference = reference, Key = o.Key, KeyId = SignatureRecord.PeekKeyId(stored.Bytes) ?? fileKeyId,
                    Status = keys.Count > 0 ? SignatureStatus.UnsupportedSchema : null,
                });
                continue;
            }
            result.Add(Describe(reference, o.Key, record, keys.Count > 0 ? Judge(name, digest, record, keys) : null));
        }
        return result;
    }

    /// <summary>Whether <paramref name="key"/> signed the tag's current manifest: its record, judged, with the reason.</summary>
    public async Task<SignatureVerification> VerifyAsync(SignedName name, VerificationKey key, CancellationToken cancellationToken)
    {
        var reference = ReferenceOf(name);
        var digest = await CurrentDigestAsync(name, cancellationToken).ConfigureAwait(false) ?? throw ImageStore.ImageNotFound(reference);
        var records = await ListAsync(name, [key], cancellationToken).ConfigureAwait(false);
        // The key's own records; an unreadable record counts for the key when it sits under the key's name.
        var mine = records.Where(r => r.Status != SignatureStatus.UnknownKey
                                      && (r.Status != SignatureStatus.UnsupportedSchema || r.Key == RecordKey(name, key.KeyId))).ToList();
        var best = mine.OrderBy(r => Rank(r.Status!.Value)).FirstOrDefault();
        var status = best?.Status ?? SignatureStatus.NotSigned;
        return new SignatureVerification
        {
            Reference = reference,
            IsValid = status == SignatureStatus.Valid,
            Status = status,
            KeyId = key.KeyId,
            Digest = digest.ToString(),
            SignedAt = best?.SignedAt,
            Reason = status switch
            {
                SignatureStatus.Valid => $"{reference} ({digest}) is signed by key {key.KeyId}.",
                SignatureStatus.ManifestChanged => $"Key {key.KeyId} signed {best!.Digest}, but {reference} now holds {digest}: it was pushed again since.",
                SignatureStatus.Invalid => $"The record of key {key.KeyId} does not verify for {reference}: it was altered, or made for another tag, image or store.",
                SignatureStatus.UnsupportedSchema => $"The record of key {key.KeyId} is not a schemaVersion 2 signature record.",
                _ => $"{reference} has no signature by key {key.KeyId}.",
            },
        };
    }

    /// <summary>Whether one of <paramref name="keys"/> signed <paramref name="digest"/> as the tag's manifest, by the records alone
    /// (the caller has read the manifest and knows its digest).</summary>
    public async Task<bool> IsSignedAsync(SignedName name, Digest digest, IReadOnlyList<VerificationKey> keys, CancellationToken cancellationToken)
    {
        foreach (var key in keys)
        {
            var stored = await store.Objects.GetBytesAsync(RecordKey(name, key.KeyId), SignatureRecord.MaxBytes, cancellationToken).ConfigureAwait(false);
            if (stored is not null && SignatureRecord.TryParse(stored.Bytes) is { } record && Judge(name, digest, record, [key]) == SignatureStatus.Valid)
                return true;
        }
        return false;
    }

    /// <summary>The digest of the manifest the tag holds now (of its exact bytes), or null when the tag does not exist.</summary>
    public async Task<Digest?> CurrentDigestAsync(SignedName name, CancellationToken cancellationToken)
    {
        var stored = await store.Objects.GetBytesAsync(StoreLayout.ManifestKey(name.Name, name.Tag), Manifest.MaxBytes, cancellationToken).ConfigureAwait(false);
        return stored is null ? null : Digest.Compute(stored.Bytes);
    }

    private static SignatureStatus Judge(SignedName name, Digest current, SignatureRecord record, IReadOnlyList<VerificationKey> keys)
    {
        var key = keys.FirstOrDefault(k => k.KeyId == record.KeyId);
        if (key is null) return SignatureStatus.UnknownKey;
        if (record.Digest == current.ToString())
            return key.Verify(SignaturePayload.Build(name, current), record.Signature, record.Algorithm) ? SignatureStatus.Valid : SignatureStatus.Invalid;
        // A record of another manifest: a good signature of it means the tag moved; a bad one is a bad record.
        return Digest.TryParse(record.Digest, out var signed) && key.Verify(SignaturePayload.Build(name, signed), record.Signature, record.Algorithm)
            ? SignatureStatus.ManifestChanged
            : SignatureStatus.Invalid;
    }

    private static int Rank(SignatureStatus status) => status switch
    {
        SignatureStatus.Valid => 0,
        SignatureStatus.ManifestChanged => 1,
        SignatureStatus.Invalid => 2,
        _ => 3,
    };

    private async Task EnsureUnchangedAsync(SignedName name, Digest signed, CancellationToken cancellationToken)
    {
        var now = await CurrentDigestAsync(name, cancellationToken).ConfigureAwait(false);
        if (now != signed)
            throw new S3loException(ErrorIds.TagChanged, S3loErrorKind.ResourceExists,
                $"{ReferenceOf(name)} changed while it was being signed (it held {signed}, now {(now?.ToString() ?? "nothing")}); no signature was written. Sign it again.",
                ReferenceOf(name));
    }

    private static SignatureInfo Describe(string reference, string key, SignatureRecord record, SignatureStatus? status) => new()
    {
        Reference = reference,
        Key = key,
        KeyId = record.KeyId,
        Algorithm = record.Algorithm,
        KeyRef = record.KeyRef,
        SignedAt = record.SignedAt,
        Digest = record.Digest,
        Status = status,
    };

    private static string RecordKey(SignedName name, string keyId) => StoreLayout.SignaturesPrefix(name.Name, name.Tag) + keyId + ".json";

    private string ReferenceOf(SignedName name) => $"{store.Location}{name.Name}:{name.Tag}";
}
