using S3lo.Core.Catalog;
using S3lo.Core.Formats;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Files;

/// <summary>
/// The merged filesystem of one platform of an image in a store: its layers applied in order, as a container runtime
/// unpacks them. An upper layer's entry replaces a lower one; a whiteout <c>.wh.&lt;name&gt;</c> removes <c>name</c> (and what is
/// under it) from the layers below, an opaque marker <c>.wh..wh..opq</c> everything the layers below put in its directory.
/// Files are read with links followed inside the image's root, from just the bytes that hold them where a file index allows.
/// </summary>
public sealed class ImageFileSystem
{
    /// <summary>How many links a path may pass through before it counts as a loop (Linux allows 40; 16 is s3lo's limit).</summary>
    public const int MaxLinkHops = 16;

    private const string WhiteoutPrefix = ".wh.";
    private const string OpaqueMarker = ".wh..wh..opq";

    private readonly ImageStore _store;
    private readonly IReadOnlyList<Descriptor> _layers;
    private readonly IReadOnlyList<LayerFiles.Listing> _listings;
    private readonly Dictionary<string, Node> _nodes;

    private ImageFileSystem(ImageStore store, string description, IReadOnlyList<Descriptor> layers, IReadOnlyList<LayerFiles.Listing> listings)
    {
        _store = store;
        Description = description;
        _layers = layers;
        _listings = listings;
        _nodes = Merge(layers, listings);
    }

    /// <summary>The image, as the errors name it.</summary>
    public string Description { get; }

    /// <summary>Reads the layers of <paramref name="reference"/> (for an index, the entry for <paramref name="platform"/>, the host's when null):
    /// each chunked layer's file index, or the whole of every other layer, checked against its digest.</summary>
    public static async Task<ImageFileSystem> OpenAsync(ImageStore store, ImageReference reference, Platform? platform, CancellationToken cancellationToken)
    {
        var image = await ImageResolver.ResolveAsync(store, reference, cancellationToken).ConfigureAwait(false);
        var (manifest, _) = await ImageResolver.SelectPlatformAsync(store, image.Manifest, platform, cancellationToken).ConfigureAwait(false);
        var listings = new List<LayerFiles.Listing>();
        foreach (var layer in manifest.Layers)
            listings.Add(await LayerFiles.ListAsync(store, layer, cancellationToken).ConfigureAwait(false));
        return new ImageFileSystem(store, reference.ToString(), manifest.Layers, listings);
    }

    /// <summary>Every entry, ordered by path (the root itself is not listed).</summary>
    public IEnumerable<ImageFileInfo> Files => _nodes.Values.OrderBy(n => n.Info.Path, StringComparer.Ordinal).Select(WithLinkedSize);

    /// <summary>The entry at <paramref name="path"/> itself (a link is not followed), or null.</summary>
    public ImageFileInfo? Find(string path) => _nodes.TryGetValue(ImagePath.Normalize(path), out var node) ? WithLinkedSize(node) : null;

    /// <summary>
    /// The regular file <paramref name="path"/> names, with symbolic links followed (relative ones from their directory,
    /// absolute ones from the image's root, never above it) and hard links resolved from the root, at most
    /// <see cref="MaxLinkHops"/> links in all. <c>FileNotFound</c>, <c>IsADirectory</c>, <c>SymlinkLoop</c>.
    /// </summary>
    public ImageFileInfo Resolve(string path) => ResolveNode(path).Info;

    /// <summary>Writes the content of the file <paramref name="path"/> names (see <see cref="Resolve"/>) to <paramref name="destination"/>.
    /// Returns once every byte read has been checked; a failure may leave part of the content in <paramref name="destination"/>.</summary>
    public async Task<ImageFileInfo> CopyFileAsync(string path, Stream destination, CancellationToken cancellationToken)
    {
        var node = ResolveNode(path);
        await LayerFiles.CopyAsync(_store, _layers[node.LayerIndex], _listings[node.LayerIndex], node.Entry, destination, cancellationToken).ConfigureAwait(false);
        return node.Info;
    }

    /// <summary>Writes the content of the file <paramref name="path"/> names to the file <paramref name="outputPath"/> (an absolute path),
    /// which appears only once the content is complete and checked; an existing file is replaced only when <paramref name="overwrite"/>
    /// (else <c>OutputExists</c>).</summary>
    public async Task<ImageFileInfo> SaveFileAsync(string path, string outputPath, bool overwrite, CancellationToken cancellationToken)
    {
        var node = ResolveNode(path);
        var target = OutputTarget.Reserve(outputPath, isDirectory: false, overwrite);
        try
        {
            await using (var output = new FileStream(target.TempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
                await LayerFiles.CopyAsync(_store, _layers[node.LayerIndex], _listings[node.LayerIndex], node.Entry, output, cancellationToken).ConfigureAwait(false);
            target.Commit();
        }
        catch
        {
            target.Discard();
            throw;
        }
        return node.Info;
    }

    private Node ResolveNode(string path)
    {
        var hops = 0;
        var node = Walk(ImagePath.Normalize(path), path, ref hops);
        while (true)
        {
            switch (node?.Info.Type)
            {
                case null:
                    throw Error(ErrorIds.IsADirectory, S3loErrorKind.InvalidArgument, $"'{path}' in {Description} is the root directory; only files can be read.", path);
                case ImageFileType.File:
                    return node;
                case ImageFileType.Directory:
                    throw Error(ErrorIds.IsADirectory, S3loErrorKind.InvalidArgument,
                        $"'{path}' in {Description} is a directory ({node.Info.Path}); only files can be read. Get-S3loImageFile lists what it holds.", path);
                case ImageFileType.Hardlink:
                    if (++hops > MaxLinkHops) throw Loop(path);
                    node = Walk(node.Info.LinkTarget ?? ImagePath.Root, path, ref hops);
                    break;
                default:
                    throw Error(ErrorIds.InvalidArgument, S3loErrorKind.InvalidArgument,
                        $"'{path}' in {Description} is a device or FIFO ({node.Info.Path}), which has no content to read.", path);
            }
        }
    }

    /// <summary>Follows <paramref name="path"/> segment by segment, through every symbolic link on the way, the last included;
    /// null for the root.</summary>
    private Node? Walk(string path, string asked, ref int hops)
    {
        var pending = new Stack<string>(Enumerable.Reverse(ImagePath.Segments(path)));
        var current = ImagePath.Root;
        Node? node = null;
        while (pending.TryPop(out var segment))
        {
            if (segment == ".") continue;
            if (segment == "..")
            {
                // As in a chroot: the root's parent is the root.
                current = ImagePath.Parent(current);
                node = current == ImagePath.Root ? null : _nodes[current];
                continue;
            }
            var next = ImagePath.Combine(current, segment);
            if (!_nodes.TryGetValue(next, out var found))
                throw Error(ErrorIds.FileNotFound, S3loErrorKind.NotFound, $"'{asked}' does not exist in {Description} (no {next}).", asked);
            if (found.Info.Type == ImageFileType.Symlink)
            {
                if (++hops > MaxLinkHops) throw Loop(asked);
                var target = found.Info.LinkTarget ?? "";
                if (target.StartsWith('/')) current = ImagePath.Root;
                foreach (var s in Enumerable.Reverse(ImagePath.Segments(target))) pending.Push(s);
                node = current == ImagePath.Root ? null : _nodes[current];
                continue;
            }
            if (pending.Count > 0 && found.Info.Type != ImageFileType.Directory)
                throw Error(ErrorIds.FileNotFound, S3loErrorKind.NotFound, $"'{asked}' does not exist in {Description}: {next} is not a directory.", asked);
            current = next;
            node = found;
        }
        return node;
    }

    private S3loException Loop(string path)
        => Error(ErrorIds.SymlinkLoop, S3loErrorKind.InvalidData, $"'{path}' in {Description} passes through more than {MaxLinkHops} links (a loop?).", path);

    private static S3loException Error(string id, S3loErrorKind kind, string message, string path) => new(id, kind, message, path);

    /// <summary>A hard link shows the size of the file it names.</summary>
    private ImageFileInfo WithLinkedSize(Node node)
        => node.Info.Type == ImageFileType.Hardlink && node.Info.LinkTarget is { } target && _nodes.TryGetValue(target, out var linked)
                                                    && linked.Info.Type == ImageFileType.File
            ? node.Info with { Size = linked.Info.Size }
            : node.Info;

    private static Dictionary<string, Node> Merge(IReadOnlyList<Descriptor> layers, IReadOnlyList<LayerFiles.Listing> listings)
    {
        var nodes = new Dictionary<string, Node>(StringComparer.Ordinal);
        var paths = new SortedSet<string>(StringComparer.Ordinal);

        void RemoveBelow(string directory)
        {
            // Every path under the directory sorts between "<dir>/" and "<dir>0" ('0' follows '/').
            var prefix = directory == ImagePath.Root ? "/" : directory + "/";
            var under = paths.GetViewBetween(prefix, prefix[..^1] + "0").Where(p => p.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            foreach (var p in under)
            {
                paths.Remove(p);
                nodes.Remove(p);
            }
        }

        void Remove(string path)
        {
            paths.Remove(path);
            nodes.Remove(path);
            RemoveBelow(path);
        }

        for (var i = 0; i < layers.Count; i++)
        {
            var layer = layers[i].Digest.ToString();
            var entries = listings[i].Entries;
            // Whiteouts hide what the layers below hold, never what their own layer adds: they go first.
            foreach (var entry in entries)
            {
                var name = entry.Path[(entry.Path.LastIndexOf('/') + 1)..];
                if (!name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal)) continue;
                var directory = ImagePath.Parent(entry.Path);
                if (name == OpaqueMarker) RemoveBelow(directory);
                else Remove(ImagePath.Combine(directory, name[WhiteoutPrefix.Length..]));
            }
            foreach (var entry in entries)
            {
                if (entry.Path[(entry.Path.LastIndexOf('/') + 1)..].StartsWith(WhiteoutPrefix, StringComparison.Ordinal)) continue;
                // A directory laid over a directory merges with it; anything else replaces what was there, and all under it.
                if (nodes.TryGetValue(entry.Path, out var existing)
                    && !(existing.Info.Type == ImageFileType.Directory && entry.Type == ImageFileType.Directory))
                    RemoveBelow(entry.Path);
                for (var parent = ImagePath.Parent(entry.Path); parent != ImagePath.Root && !nodes.ContainsKey(parent); parent = ImagePath.Parent(parent))
                {
                    nodes[parent] = new Node(new ImageFileInfo(parent, ImageFileType.Directory, 0, null, null, null, layer), i,
                        new LayerEntry(parent, ImageFileType.Directory, 0, null, null, null, -1, -1));
                    paths.Add(parent);
                }
                nodes[entry.Path] = new Node(new ImageFileInfo(entry.Path, entry.Type, entry.Size, entry.LinkTarget, entry.Mode, entry.Modified, layer), i, entry);
                paths.Add(entry.Path);
            }
        }
        return nodes;
    }

    private sealed record Node(ImageFileInfo Info, int LayerIndex, LayerEntry Entry);
}
