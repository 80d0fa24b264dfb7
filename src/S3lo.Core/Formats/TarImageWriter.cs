using System.Text.Json;
using System.Text.Json.Nodes;
using S3lo.Core.Oci;

namespace S3lo.Core.Formats;

/// <summary>
/// Saves an image as a tar: an oci-archive, or a docker archive. The docker archive is laid out as Docker 25+ saves
/// one: an OCI layout (blobs/sha256, index.json, oci-layout) plus the manifest.json that <c>docker load</c> and
/// <c>podman load</c> read, so OCI tools can read it too and compressed layers keep their media types.
/// </summary>
internal sealed class TarImageWriter : IImageWriter
{
    private readonly OutputTarget _target;
    private readonly string? _imageName;
    private readonly bool _docker;
    private readonly FileStream _file;
    private readonly TarStreamWriter _tar;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Dictionary<Digest, long> _dataOffsets = new();
    private readonly Dictionary<Digest, Descriptor> _uncompressedLayers = new();
    private bool _completed;

    public TarImageWriter(OutputTarget target, string? imageName, bool docker)
    {
        _target = target;
        _imageName = imageName;
        _docker = docker;
        _file = new FileStream(target.TempPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        _tar = new TarStreamWriter(_file);
    }

    /// <summary>A tar is one stream: its members are written one after another.</summary>
    public int MaxConcurrentBlobWrites => 1;

    public async Task WriteBlobAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_dataOffsets.ContainsKey(descriptor.Digest)) return;
            if (_docker && descriptor.MediaType == MediaTypes.OciLayerZstd)
            {
                await WriteUncompressedAsync(descriptor, content, cancellationToken).ConfigureAwait(false);
                return;
            }
            _dataOffsets[descriptor.Digest] = await _tar.WriteFileAsync(OciLayout.BlobPath(descriptor.Digest), descriptor.Size, content, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// <c>docker load</c> and <c>podman load</c> do not all take zstd layers (a chunked layer in a store is one): in a docker
    /// archive such a layer is written as its tar, named by its digest, which is the config's diff_id, and the manifest
    /// names it so (<see cref="CompleteAsync"/>). It is uncompressed to a temporary file first, since a tar member's size
    /// comes before its data.
    /// </summary>
    private async Task WriteUncompressedAsync(Descriptor descriptor, Stream content, CancellationToken cancellationToken)
    {
        var temporary = _target.TempPath + ".layer";
        try
        {
            Digest digest;
            long size;
            await using (var file = new FileStream(temporary, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
                await using (var raw = new ZstdSharp.DecompressionStream(content, leaveOpen: true))
                {
                    var buffer = new byte[1 << 16];
                    int n;
                    while ((n = await raw.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        hash.AppendData(buffer, 0, n);
                        await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    }
                }
                digest = Digest.FromHash(hash.GetHashAndReset());
                size = file.Length;
                file.Position = 0;
                if (!_dataOffsets.ContainsKey(digest))
                    _dataOffsets[digest] = await _tar.WriteFileAsync(OciLayout.BlobPath(digest), size, file, cancellationToken).ConfigureAwait(false);
            }
            _dataOffsets[descriptor.Digest] = _dataOffsets[digest];
            _uncompressedLayers[descriptor.Digest] = new Descriptor(MediaTypes.OciLayer, digest, size);
        }
        catch (ZstdSharp.ZstdException e)
        {
            throw new S3loException(ErrorIds.InvalidLayer, S3loErrorKind.InvalidData, $"The layer {descriptor.Digest} is not valid zstd: {e.Message}",
                descriptor.Digest.ToString(), e);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public async Task CompleteAsync(Manifest manifest, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_uncompressedLayers.Count > 0) manifest = Transfer.ManifestRewriter.Rewrite(manifest, _uncompressedLayers);
            var missing = manifest.References.FirstOrDefault(d => !_dataOffsets.ContainsKey(d.Digest));
            if (missing is not null) throw NotWritten(missing, _target.FinalPath);
            byte[]? dockerManifest = null;
            if (_docker) dockerManifest = await CreateDockerManifestAsync(manifest, cancellationToken).ConfigureAwait(false);

            if (!_dataOffsets.ContainsKey(manifest.Digest))
                await _tar.WriteFileAsync(OciLayout.BlobPath(manifest.Digest), manifest.Bytes, cancellationToken).ConfigureAwait(false);
            await _tar.WriteFileAsync(OciLayout.IndexFile, OciLayout.CreateIndex(manifest, ImageWriters.NameAnnotations(_imageName, _docker)), cancellationToken).ConfigureAwait(false);
            await _tar.WriteFileAsync(OciLayout.LayoutFile, OciLayout.LayoutBytes, cancellationToken).ConfigureAwait(false);
            if (dockerManifest is not null)
                await _tar.WriteFileAsync(DockerArchiveReader.ManifestFile, dockerManifest, cancellationToken).ConfigureAwait(false);
            await _tar.FinishAsync(cancellationToken).ConfigureAwait(false);
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            _file.Flush(flushToDisk: true);
            await _file.DisposeAsync().ConfigureAwait(false);
            _target.Commit();
            _completed = true;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Docker's manifest.json lists the layer files in order. The config already written is read back to check it
    /// describes as many layers as the manifest lists: <c>docker load</c> would otherwise fail with a far less clear message.</summary>
    private async Task<byte[]> CreateDockerManifestAsync(Manifest manifest, CancellationToken cancellationToken)
    {
        if (manifest.IsIndex)
            throw new S3loException(ErrorIds.UnsupportedMediaType, S3loErrorKind.InvalidArgument,
                "A docker archive holds a single-platform image; choose one platform of the index to save.", manifest.Digest.ToString());
        var config = manifest.Config!;
        var configBytes = new byte[config.Size];
        await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
        var end = _file.Position;
        _file.Position = _dataOffsets[config.Digest];
        await _file.ReadExactlyAsync(configBytes, cancellationToken).ConfigureAwait(false);
        _file.Position = end;

        int diffIds;
        try
        {
            diffIds = JsonNode.Parse(configBytes)?["rootfs"]?["diff_ids"]?.AsArray().Count ?? -1;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            diffIds = -1;
        }
        if (diffIds != manifest.Layers.Count)
            throw new S3loException(ErrorIds.InvalidManifest, S3loErrorKind.InvalidData,
                $"The image config {config.Digest} does not list one rootfs.diff_id per layer of manifest {manifest.Digest}; Docker could not load it.",
                manifest.Digest.ToString());

        var entry = new JsonObject
        {
            ["Config"] = OciLayout.BlobPath(config.Digest),
            ["RepoTags"] = _imageName is null ? new JsonArray() : new JsonArray(RepoTag(_imageName)),
            ["Layers"] = new JsonArray(manifest.Layers.Select(l => (JsonNode)OciLayout.BlobPath(l.Digest)).ToArray()),
        };
        return JsonSerializer.SerializeToUtf8Bytes(new JsonArray(entry));
    }

    /// <summary>A RepoTag always has a tag; Docker reads a bare name as <c>:latest</c>.</summary>
    private static string RepoTag(string imageName) => ImageName.Split(imageName).Tag is null ? imageName + ":latest" : imageName;

    public async ValueTask DisposeAsync()
    {
        await _file.DisposeAsync().ConfigureAwait(false);
        if (!_completed) _target.Discard();
        _writeLock.Dispose();
    }

    internal static S3loException NotWritten(Descriptor descriptor, string output)
        => new(ErrorIds.BlobNotFound, S3loErrorKind.InvalidData,
            $"The manifest references {descriptor.Digest}, but that blob was not written to {output}.", descriptor.Digest.ToString());
}
