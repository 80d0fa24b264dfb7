using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using S3lo.Core.Gc;
using S3lo.Core.IO;
using S3lo.Core.Oci;
using S3lo.Core.Policy;
using S3lo.Core.Signing;
using S3lo.Core.Storage;

namespace S3lo.Core.Health;

/// <summary>What a store check looks at.</summary>
public sealed record StoreCheckOptions
{
    /// <summary>Lists only the tags of images whose names start with this (with <see cref="NameMatch"/>: a listing shortcut).</summary>
    public string NamePrefix { get; init; } = "";

    public Func<string, bool>? NameMatch { get; init; }

    public Func<string, bool>? TagMatch { get; init; }

    /// <summary>Reads every referenced config, layer and chunk and checks it against its digest.</summary>
    public bool Deep { get; init; }

    /// <summary>Unreferenced objects younger than this are reported as information, older ones as warnings.</summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromHours(1);

    /// <summary>A check of some tags only cannot tell which objects no tag references, so it reports no orphans.</summary>
    public bool IsScoped => NamePrefix.Length > 0 || NameMatch is not null || TagMatch is not null;
}

/// <summary>
/// Checks a store without changing it (s3lo's <c>doctor</c>): s3lo.yaml and its chunk_format, every tag's manifest and
/// what it references (through the <see cref="ReferenceWalker"/> garbage collection marks with), the size of every
/// referenced object, signature records against their tag's manifest digest, and the objects no tag references. With
/// <see cref="StoreCheckOptions.Deep"/>, every referenced config, layer and chunk is read and hashed, each once.
/// Problems are yielded tag by tag; the store's own (s3lo.yaml, orphans, deep verification) before and after them.
/// </summary>
public sealed class StoreChecker(ImageStore store)
{

    public async IAsyncEnumerable<StoreProblem> CheckAsync(StoreCheckOptions options, IProgress<StoreCheckProgress>? progress,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        await StoreExistence.RequireAsync(store.Objects, cancellationToken).ConfigureAwait(false);
        var run = new CheckRun(store, options, progress);
        var cutoff = await store.Objects.GetClockAsync(cancellationToken).ConfigureAwait(false) - options.GracePeriod;

        await run.CheckPolicyAsync(cancellationToken).ConfigureAwait(false);
        await run.ListAsync(cancellationToken).ConfigureAwait(false);
        foreach (var problem in run.TakeFound()) yield return problem;

        var nameMatch = options.NameMatch ?? (_ => true);
        var tagMatch = options.TagMatch ?? (_ => true);
        await foreach (var entry in store.ListTagsAsync(options.NamePrefix, cancellationToken).ConfigureAwait(false))
        {
            if (!nameMatch(entry.Name) || !tagMatch(entry.Tag)) continue;
            await run.CheckTagAsync(entry, cancellationToken).ConfigureAwait(false);
            foreach (var problem in run.TakeFound()) yield return problem;
        }

        if (options.Deep) await run.VerifyAsync(cancellationToken).ConfigureAwait(false);
        if (!options.IsScoped) run.ReportOrphans(cutoff);
        foreach (var problem in run.TakeFound()) yield return problem;
        run.ReportProgress(StoreCheckPhase.Verifying);
    }

    /// <summary>The state of one check: what is stored, what the tags reference, and the problems not yet handed out.</summary>
    private sealed class CheckRun(ImageStore store, StoreCheckOptions options, IProgress<StoreCheckProgress>? progress)
    {
        private readonly ReferenceWalker _walker = new(store);
        private readonly Dictionary<string, ObjectInfo> _present = new(StringComparer.Ordinal);
        private readonly HashSet<string> _referenced = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (ObjectReference Object, string Tag)> _toVerify = new(StringComparer.Ordinal);
        private readonly HashSet<(ProblemKind, string, string)> _reported = [];
        private readonly HashSet<string> _corrupt = new(StringComparer.Ordinal);
        private readonly List<StoreProblem> _found = [];
        private int _tags;
        private int _problems;
        private long _verified;
        private long _bytesVerified;

        // Set when a tag could not be followed whole: what it references is unknown, so no object can be called orphaned.
        private bool _incomplete;

        public List<StoreProblem> TakeFound()
        {
            var taken = _found.ToList();
            _found.Clear();
            return taken;
        }

        public void ReportProgress(StoreCheckPhase phase)
            => progress?.Report(new StoreCheckProgress(phase, _tags, _verified, _toVerify.Count, _bytesVerified, _problems));

        public async Task CheckPolicyAsync(CancellationToken cancellationToken)
        {
            PolicyDocument policy;
            try
            {
                policy = await new PolicyStore(store.Objects).ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (S3loException e) when (e.ErrorId == ErrorIds.InvalidPolicy)
            {
                Report(ProblemSeverity.Error, ProblemKind.InvalidPolicy, "", PolicyStore.Key, e.Message);
                return;
            }
            if (policy.ChunkFormat is { } format && format != ChunkRecipe.SupportedChunkFormat)
                Report(ProblemSeverity.Error, ProblemKind.ChunkFormatMismatch, "", PolicyStore.Key,
                    $"{PolicyStore.Key} declares chunk_format {format}, but S3lo and s3lo read and write chunk_format {ChunkRecipe.SupportedChunkFormat}: "
                    + "chunked layers of this store cannot be read, and chunked pushes are refused.");
        }

        public async Task ListAsync(CancellationToken cancellationToken)
        {
            foreach (var prefix in GarbageCollector.SweptPrefixes)
            {
                await foreach (var o in store.Objects.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
                {
                    _present[o.Key] = o;
                    if (_present.Count % 1000 == 0) ReportProgress(StoreCheckPhase.Listing);
                }
            }
            await _walker.ListRecipesAsync(cancellationToken).ConfigureAwait(false);
        }

        public async Task CheckTagAsync(TagEntry entry, CancellationToken cancellationToken)
        {
            var reference = $"{entry.Name}:{entry.Tag}";
            StoredObject? stored;
            try
            {
                stored = await store.Objects.GetBytesAsync(entry.ManifestObject.Key, Manifest.MaxBytes, cancellationToken).ConfigureAwait(false);
            }
            catch (S3loException e) when (e.ErrorId == ErrorIds.ObjectTooLarge)
            {
                _incomplete = true;
                Report(ProblemSeverity.Error, ProblemKind.InvalidManifest, reference, entry.ManifestObject.Key, $"The manifest of {reference} is too large to be one: {e.Message}");
                return;
            }
            // Deleted since it was listed.
            if (stored is null) return;
            _tags++;
            var manifestDigest = Digest.Compute(stored.Bytes);
            MarkDigest(manifestDigest);
            try
            {
                var manifest = Manifest.Parse(stored.Bytes);
                var seen = new HashSet<string>(StringComparer.Ordinal);
                await _walker.WalkAsync(manifest, o => Visit(o, reference, seen), (o, why, e) => Unfollowable(o, reference, why, e), cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (S3loException e) when (e.ErrorId is ErrorIds.InvalidManifest or ErrorIds.UnsupportedMediaType)
            {
                _incomplete = true;
                Report(ProblemSeverity.Error, ProblemKind.InvalidManifest, reference, entry.ManifestObject.Key, $"The manifest of {reference} cannot be read: {e.Message}");
            }
            await CheckSignaturesAsync(entry, reference, manifestDigest, cancellationToken).ConfigureAwait(false);
            ReportProgress(StoreCheckPhase.CheckingTags);
        }

        /// <summary>Marks what garbage collection would keep for a digest: the blob, and a recipe and file index keyed by it.</summary>
        private void MarkDigest(Digest digest)
        {
            _referenced.Add(StoreLayout.BlobKey(digest));
            _referenced.Add(StoreLayout.RecipeKey(digest));
            _referenced.Add(StoreLayout.IndexKey(digest));
        }

        private bool Visit(ObjectReference o, string reference, HashSet<string> seenInTag)
        {
            if (o.Kind is ReferenceKind.IndexChild or ReferenceKind.Config or ReferenceKind.Layer) MarkDigest(o.Digest);
            else _referenced.Add(o.Key);
            // Each object once per tag, however often the tag's manifests name it.
            if (!seenInTag.Add(o.Kind + o.Key)) return false;
            switch (o.Kind)
            {
                case ReferenceKind.IndexChild when !_present.ContainsKey(o.Key):
                    Report(ProblemSeverity.Error, ProblemKind.MissingIndexChild, reference, o.Key,
                        $"The index of {reference} names the manifest {o.Digest}, which is missing ({o.Key}).");
                    break;
                case ReferenceKind.Config:
                case ReferenceKind.Layer:
                    CheckBlob(o, reference);
                    break;
                case ReferenceKind.FileIndex when !_present.ContainsKey(o.Key):
                    Report(ProblemSeverity.Warning, ProblemKind.MissingFileIndex, reference, o.Key,
                        $"The chunked layer {o.Layer} of {reference} has no file index ({o.Key}): it reads whole, but Get-S3loImageFile and Read-S3loImageFile cannot list its files.");
                    break;
                case ReferenceKind.Chunk:
                    CheckSize(o, reference, $"chunk {o.Digest} of the layer {o.Layer}", ProblemKind.MissingChunk,
                        $"The chunk {o.Digest} of the layer {o.Layer} of {reference} is missing ({o.Key}): the layer cannot be read.");
                    break;
            }
            return true;
        }

        private void CheckBlob(ObjectReference o, string reference)
        {
            var what = o.Kind == ReferenceKind.Config ? "config" : "layer";
            if (_present.ContainsKey(o.Key))
            {
                CheckSize(o, reference, $"{what} {o.Digest}", ProblemKind.MissingBlob, "");
                if (options.Deep) _toVerify.TryAdd(o.Key, (o, reference));
                return;
            }
            if (o.Kind == ReferenceKind.Layer && _present.ContainsKey(StoreLayout.RecipeKey(o.Digest)))
            {
                if (options.Deep) _toVerify.TryAdd(o.Key, (o, reference));
                return;
            }
            if (o.Kind == ReferenceKind.Layer && _present.ContainsKey(StoreLayout.IndexKey(o.Digest)))
            {
                Report(ProblemSeverity.Error, ProblemKind.MissingRecipe, reference, StoreLayout.RecipeKey(o.Digest),
                    $"The layer {o.Digest} of {reference} was stored chunked (its file index is there), but its recipe is missing and there is no whole blob: the layer cannot be read.");
                return;
            }
            Report(ProblemSeverity.Error, ProblemKind.MissingBlob, reference, o.Key, $"The {what} {o.Digest} of {reference} is missing ({o.Key}).");
        }

        /// <summary>Reports a missing object as <paramref name="missingKind"/>, or one whose stored size is not the referenced size.</summary>
        private void CheckSize(ObjectReference o, string reference, string what, ProblemKind missingKind, string missingMessage)
        {
            if (!_present.TryGetValue(o.Key, out var info))
            {
                Report(ProblemSeverity.Error, missingKind, reference, o.Key, missingMessage);
                return;
            }
            if (o.Size >= 0 && info.Size != o.Size)
                Report(ProblemSeverity.Error, ProblemKind.SizeMismatch, reference, o.Key,
                    $"The {what} of {reference} is {info.Size} bytes in the store ({o.Key}), but {o.Size} bytes are referenced.");
        }

        private void Unfollowable(ObjectReference o, string reference, string why, S3loException? e)
        {
            _incomplete = true;
            switch (e?.ErrorId)
            {
                // Reported as a missing index child when it was visited.
                case ErrorIds.BlobNotFound when o.Kind == ReferenceKind.IndexChild:
                    return;
                case ErrorIds.DigestMismatch:
                    ReportCorrupt(reference, o.Key, $"The manifest {o.Digest} of {reference} does not match its digest ({o.Key}): {e.Message}");
                    return;
            }
            if (o.Kind == ReferenceKind.Recipe)
                Report(ProblemSeverity.Error, ProblemKind.InvalidRecipe, reference, o.Key, $"The tag {reference} cannot be followed: {why}.");
            else
                Report(ProblemSeverity.Error, ProblemKind.InvalidManifest, reference, o.Key, $"The tag {reference} cannot be followed: {why}.");
        }

        private async Task CheckSignaturesAsync(TagEntry entry, string reference, Digest manifestDigest, CancellationToken cancellationToken)
        {
            foreach (var record in await store.ListSignaturesAsync(entry.Name, entry.Tag, cancellationToken).ConfigureAwait(false))
            {
                if (!record.Key.EndsWith(".json", StringComparison.Ordinal)) continue;
                StoredObject? stored;
                try
                {
                    stored = await store.Objects.GetBytesAsync(record.Key, SignatureRecord.MaxBytes, cancellationToken).ConfigureAwait(false);
                }
                catch (S3loException e) when (e.ErrorId == ErrorIds.ObjectTooLarge)
                {
                    Report(ProblemSeverity.Warning, ProblemKind.InvalidSignature, reference, record.Key, $"The signature record {record.Key} of {reference} cannot be read: {e.Message}");
                    continue;
                }
                if (stored is null) continue;
                var (signed, problem) = SignatureRecord.ReadSignedDigest(stored.Bytes);
                if (problem is not null)
                    Report(ProblemSeverity.Warning, ProblemKind.InvalidSignature, reference, record.Key,
                        $"The signature record {record.Key} of {reference} cannot be read: {problem}.");
                else if (signed != manifestDigest)
                    Report(ProblemSeverity.Warning, ProblemKind.SignatureMismatch, reference, record.Key,
                        $"The signature record {record.Key} signs {signed}, but the manifest of {reference} is now {manifestDigest}: the tag changed after it was signed.");
            }
        }

        /// <summary>Reads each referenced config and layer once (a chunked layer chunk by chunk) and checks it against its digest.</summary>
        public async Task VerifyAsync(CancellationToken cancellationToken)
        {
            var chunksVerified = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (key, (o, reference)) in _toVerify)
            {
                ReportProgress(StoreCheckPhase.Verifying);
                if (_present.TryGetValue(key, out var info)) await VerifyBlobAsync(o, info, reference, cancellationToken).ConfigureAwait(false);
                else await VerifyChunkedAsync(o, reference, chunksVerified, cancellationToken).ConfigureAwait(false);
                _verified++;
            }
        }

        private async Task VerifyBlobAsync(ObjectReference o, ObjectInfo info, string reference, CancellationToken cancellationToken)
        {
            try
            {
                await using var content = new VerifyingReadStream(await store.Objects.OpenReadAsync(o.Key, cancellationToken).ConfigureAwait(false),
                    o.Digest, info.Size, $"blob {o.Digest} in {store.Location}");
                await content.DrainAndVerifyAsync(cancellationToken).ConfigureAwait(false);
                _bytesVerified += info.Size;
            }
            catch (ObjectNotFoundException)
            {
                // Deleted since it was listed: garbage collection took it, its tag is gone.
            }
            catch (S3loException e) when (e.ErrorId is ErrorIds.DigestMismatch or ErrorIds.SizeMismatch)
            {
                ReportCorrupt(reference, o.Key, $"The bytes of {o.Key} ({reference}) do not hash to its digest: {e.Message}");
            }
        }

        /// <summary>Checks each chunk's frame against its raw digest (each chunk once), then the frames in order against the layer's digest.</summary>
        private async Task VerifyChunkedAsync(ObjectReference layer, string reference, HashSet<string> chunksVerified, CancellationToken cancellationToken)
        {
            ChunkRecipe? recipe;
            try
            {
                recipe = await store.TryGetRecipeAsync(layer.Digest, cancellationToken).ConfigureAwait(false);
            }
            catch (S3loException e) when (e.ErrorId is ErrorIds.UnsupportedChunkFormat or ErrorIds.InvalidManifest)
            {
                // Reported already: the chunk_format mismatch, or the recipe when the walk read it.
                return;
            }
            if (recipe is null) return;
            using var layerHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var whole = true;
            foreach (var chunk in recipe.Chunks)
            {
                var key = StoreLayout.ChunkKey(chunk.Digest);
                byte[] frame;
                try
                {
                    frame = chunksVerified.Contains(key)
                        ? (await store.Objects.GetBytesAsync(key, ChunkedLayerStream.MaxStoredChunkBytes, cancellationToken).ConfigureAwait(false))?.Bytes ?? []
                        : await ChunkedLayerStream.FetchChunkAsync(store.Objects, recipe, chunk, cancellationToken).ConfigureAwait(false);
                    chunksVerified.Add(key);
                }
                catch (S3loException e) when (e.ErrorId is ErrorIds.DigestMismatch or ErrorIds.SizeMismatch)
                {
                    ReportCorrupt(reference, key, $"The chunk {chunk.Digest} of the layer {layer.Digest} ({reference}) does not match its digest: {e.Message}");
                    whole = false;
                    continue;
                }
                catch (S3loException e) when (e.ErrorId is ErrorIds.BlobNotFound or ErrorIds.ObjectTooLarge)
                {
                    // A missing chunk is reported by the walk; a frame too large for a chunk does not decompress to one either.
                    if (e.ErrorId == ErrorIds.ObjectTooLarge) ReportCorrupt(reference, key, e.Message);
                    whole = false;
                    continue;
                }
                layerHash.AppendData(frame);
                _bytesVerified += frame.Length;
            }
            var actual = Digest.FromHash(layerHash.GetHashAndReset());
            if (whole && actual != layer.Digest)
                ReportCorrupt(reference, StoreLayout.RecipeKey(layer.Digest),
                    $"The chunks of the layer {layer.Digest} ({reference}), in recipe order, hash to {actual}, not to the layer's digest.");
        }

        public void ReportOrphans(DateTimeOffset cutoff)
        {
            // What an unreadable tag references is unknown; calling its objects orphaned would invite their removal.
            if (_incomplete) return;
            foreach (var (key, info) in _present)
            {
                var prefix = GarbageCollector.SweptPrefixes.First(p => key.StartsWith(p, StringComparison.Ordinal));
                if (!GarbageCollector.IsContentKey(key, prefix) || _referenced.Contains(key)) continue;
                if (info.LastModified < cutoff)
                    Report(ProblemSeverity.Warning, ProblemKind.Orphaned, "", key,
                        $"No tag references {key} ({info.Size} bytes, written {info.LastModified:u}); it is older than the grace period ({options.GracePeriod}), so Remove-S3loStaleBlob would remove it.");
                else
                    Report(ProblemSeverity.Information, ProblemKind.Orphaned, "", key,
                        $"No tag references {key} ({info.Size} bytes, written {info.LastModified:u}) yet; it is inside the grace period ({options.GracePeriod}) and may belong to a push in progress.");
            }
        }

        private void ReportCorrupt(string reference, string key, string message)
        {
            if (_corrupt.Add(key)) Report(ProblemSeverity.Error, ProblemKind.DigestMismatch, reference, key, message);
        }

        private void Report(ProblemSeverity severity, ProblemKind kind, string reference, string key, string message)
        {
            if (!_reported.Add((kind, reference, key))) return;
            _problems++;
            _found.Add(new StoreProblem(severity, kind, reference, key, message));
        }
    }
}
