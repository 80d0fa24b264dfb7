using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using S3lo.Core.Diagnostics;
using S3lo.Core.IO;
using S3lo.Core.Oci;

namespace S3lo.Core.Storage.Local;

/// <summary>
/// A store in a local directory. Every write goes to a temporary file in the target directory, is flushed to disk
/// (fsync) and renamed into place, and the directory is synced after the rename: a partial file never sits under its
/// final name, and a name that survives a power loss has its whole content (a tag's blobs are written before its
/// manifest.json, so a tag that exists after a crash is whole).
/// </summary>
public sealed class LocalObjectStore : IObjectStore, IIncompleteWrites, IStoreExistence, IRangedReads
{
    private const string TempMarker = ".s3lo-tmp-";
    private const int BufferSize = 1 << 20;

    public LocalObjectStore(StoreLocation location)
    {
        if (location.Provider != LocalStoreProvider.Instance) throw new ArgumentException("Not a local store.", nameof(location));
        Location = location;
    }

    public StoreLocation Location { get; }

    private string PathOf(string key)
    {
        if (key.Split('/').Any(s => s is "" or "." or ".." || s.Contains('\\')))
            throw new ArgumentException($"Invalid object key '{key}'.", nameof(key));
        return Path.Combine(Location.Root, key.Replace('/', Path.DirectorySeparatorChar));
    }

    public Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var file = new FileInfo(PathOf(key));
        RequestTrace.Local("HEAD", file.FullName, file.Exists ? "ok" : "not found", started);
        return Task.FromResult(file.Exists ? Info(key, file) : null);
    }

    public async Task<StoredObject?> GetBytesAsync(string key, long maxBytes, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        var started = Stopwatch.GetTimestamp();
        try
        {
            // Read whole into the array: no stream buffer (a 1 MiB buffer per small manifest made listings slow).
            await using var stream = OpenFile(path, bufferSize: 0);
            if (stream.Length > maxBytes) throw StoreErrors.TooLarge(key, maxBytes);
            var bytes = new byte[stream.Length];
            await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
            RequestTrace.Local("GET", path, "ok", started, bytesReceived: bytes.Length);
            // A local file has no ETag; the digest of its bytes serves as one for conditional writes.
            return new StoredObject(bytes, Info(key, new FileInfo(path)) with { ETag = Digest.Compute(bytes).Hex });
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            RequestTrace.Local("GET", path, "not found", started);
            return null;
        }
    }

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var path = PathOf(key);
        try
        {
            // A buffer no larger than the file: configs and manifests are small, layers get the full buffer.
            var length = new FileInfo(path).Length;
            var stream = OpenFile(path, (int)Math.Clamp(length, 4096, BufferSize));
            RequestTrace.Local("GET", path, "ok", started, bytesReceived: stream.Length);
            return Task.FromResult<Stream>(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            RequestTrace.Local("GET", path, "not found", started);
            throw new ObjectNotFoundException(key, Location);
        }
    }

    public Task<Stream> OpenReadAsync(string key, long offset, long length, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var started = Stopwatch.GetTimestamp();
        var path = PathOf(key);
        try
        {
            var size = new FileInfo(path).Length;
            var stream = new Formats.FileRangeStream(path, offset, Math.Clamp(size - offset, 0, length));
            RequestTrace.Local("GET", $"{path} bytes={offset}-{offset + length - 1}", "ok", started, bytesReceived: stream.Length);
            return Task.FromResult<Stream>(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            RequestTrace.Local("GET", path, "not found", started);
            throw new ObjectNotFoundException(key, Location);
        }
    }

    public async Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, CancellationToken cancellationToken)
    {
        await WriteAtomicallyAsync(key, async file => await file.WriteAsync(data, cancellationToken).ConfigureAwait(false), cancellationToken)
            .ConfigureAwait(false);
    }

    public async Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition condition,
        CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        if (condition.MustNotExist)
        {
            await WriteAtomicallyAsync(key, async file => await file.WriteAsync(data, cancellationToken).ConfigureAwait(false), cancellationToken,
                publish: temp =>
                {
                    if (!TryPublishExclusive(temp, path)) throw new PreconditionFailedException(key, Location);
                }).ConfigureAwait(false);
            return;
        }
        using var writeLock = await AcquireLockAsync(path, cancellationToken).ConfigureAwait(false);
        var current = await GetBytesAsync(key, long.MaxValue, cancellationToken).ConfigureAwait(false);
        if (current?.Info.ETag != condition.ExpectedETag) throw new PreconditionFailedException(key, Location);
        await PutBytesAsync(key, data, objectClass, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A file has no metadata beside its bytes: the local store writes them alone (readers compute what the metadata
    /// would say from other files, which are as cheap to read).</summary>
    public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, ObjectClass objectClass, WriteCondition? condition,
        IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
        => condition is { } required
            ? PutBytesAsync(key, data, objectClass, required, cancellationToken)
            : PutBytesAsync(key, data, objectClass, cancellationToken);

    /// <summary>
    /// Gives the finished temporary file its final name only if that name is free, atomically: of several
    /// writers exactly one succeeds. File.Move without overwrite checks and then renames, which two writers
    /// can both pass, so on Unix this is link(2), which fails with EEXIST when the name exists; on Windows
    /// a rename without replace is atomic itself.
    /// </summary>
    private static bool TryPublishExclusive(string temp, string path)
    {
        if (OperatingSystem.IsWindows())
        {
            try
            {
                File.Move(temp, path, overwrite: false);
                return true;
            }
            catch (IOException) when (File.Exists(path))
            {
                return false;
            }
        }
        if (link(temp, path) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            if (error == EEXIST) return false;
            throw new IOException($"Cannot publish '{path}': link failed with errno {error}.");
        }
        File.Delete(temp);
        return true;
    }

    private const int EEXIST = 17;
    private const int O_RDONLY = 0;

    /// <summary>
    /// Creates <paramref name="directory"/> and any missing parents; returns the parents whose entries changed (the parent of
    /// each directory created, deepest first), which must be synced too for the new names to survive a crash.
    /// </summary>
    private static List<string> CreateDirectories(string directory)
    {
        var changed = new List<string>();
        for (var dir = directory; !Directory.Exists(dir) && Path.GetDirectoryName(dir) is { } parent; dir = parent)
            changed.Add(parent);
        Directory.CreateDirectory(directory);
        return changed;
    }

    /// <summary>Flushes a directory's entries to disk (fsync on the directory), as a rename is durable only then. Windows
    /// (NTFS journals its metadata) and a directory that cannot be opened are left as they are.</summary>
    private static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        var fd = open(directory, O_RDONLY);
        if (fd < 0) return;
        try
        {
            fsync(fd);
        }
        finally
        {
            close(fd);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open(string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);

    [DllImport("libc")]
    private static extern int close(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int link(string oldPath, string newPath);

    /// <summary>
    /// Starts the disk writes of a large file while the rest of it is still being written (Linux <c>sync_file_range</c>
    /// with <c>SYNC_FILE_RANGE_WRITE</c>, every <see cref="Step"/> bytes), so the fsync before its rename waits for the
    /// last few MiB instead of the whole file: the disk works while the CPU hashes the next bytes. It changes what is
    /// durable when by nothing: the fsync still comes before the rename. Elsewhere, or where the call is refused, it does nothing.
    /// </summary>
    private sealed class EarlyWriteback(FileStream file)
    {
        private const long Step = 16 << 20;
        private const uint SyncFileRangeWrite = 2;
        private static bool s_unavailable = !OperatingSystem.IsLinux();
        private long _written;
        private long _started;

        public void Written(int count)
        {
            _written += count;
            if (_written - _started < Step || s_unavailable) return;
            // The FileStream writes a buffer as large as its own straight through, so every byte counted is in the kernel.
            file.Flush(flushToDisk: false);
            try
            {
                if (sync_file_range(file.SafeFileHandle, _started, _written - _started, SyncFileRangeWrite) != 0 &&
                    Marshal.GetLastPInvokeError() is Enosys or Einval) s_unavailable = true;
            }
            catch (EntryPointNotFoundException)
            {
                s_unavailable = true;
            }
            _started = _written;
        }

        private const int Enosys = 38;
        private const int Einval = 22;

        [DllImport("libc", SetLastError = true)]
        private static extern int sync_file_range(Microsoft.Win32.SafeHandles.SafeFileHandle fd, long offset, long nbytes, uint flags);
    }

    /// <summary>
    /// An exclusive lock for a read-check-write of one object. FileShare.None is an advisory flock on Unix, so the
    /// lock dies with its process and a crash leaves no stale lock behind; the lock file stays, hidden from listings.
    /// </summary>
    private static async Task<FileStream> AcquireLockAsync(string path, CancellationToken cancellationToken)
    {
        var lockPath = Path.Combine(Path.GetDirectoryName(path)!, TempMarker + "lock-" + Path.GetFileName(path));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 600)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task PutVerifiedAsync(string key, Stream content, Digest digest, long size, ObjectClass objectClass,
        Action<long>? progress, CancellationToken cancellationToken)
    {
        await WriteAtomicallyAsync(key, async file =>
        {
            await using var lease = VerifyingReadStream.Over(content, digest, size, $"blob {digest}");
            var verified = lease.Stream;
            var buffer = new byte[BufferSize];
            var writeback = new EarlyWriteback(file);
            int n;
            while ((n = await verified.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                writeback.Written(n);
                progress?.Invoke(n);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task WriteAtomicallyAsync(string key, Func<FileStream, Task> write, CancellationToken cancellationToken,
        Action<string>? publish = null)
    {
        var path = PathOf(key);
        var directory = Path.GetDirectoryName(path)!;
        var temp = Path.Combine(directory, TempMarker + Guid.NewGuid().ToString("N"));
        var started = Stopwatch.GetTimestamp();
        long written = 0;
        try
        {
            var created = CreateDirectories(directory);
            void Publish()
            {
                if (publish is null) File.Move(temp, path, overwrite: true);
                else publish(temp);
            }
            // The open file holds an exclusive (advisory, on Unix) lock, which tells a garbage collection sweeping unfinished
            // writes that this one is in progress. It is released before the rename: a reader of the final name takes a shared
            // lock, which a file still held exclusively would refuse.
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, FileOptions.Asynchronous))
            {
                await write(file).ConfigureAwait(false);
                written = file.Length;
                // The bytes reach the disk before the name does, so a name that survives a crash has its whole content.
                file.Flush(flushToDisk: true);
            }
            cancellationToken.ThrowIfCancellationRequested();
            Publish();
            SyncDirectory(directory);
            foreach (var parent in created) SyncDirectory(parent);
            RequestTrace.Local("PUT", path, "ok", started, bytesSent: written);
        }
        catch (Exception e)
        {
            RequestTrace.Local("PUT", path, e is PreconditionFailedException ? "exists" : "failed: " + e.Message.Split('\n', 2)[0].Trim(), started, bytesSent: written);
            TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException && e is not FileNotFoundException)
                throw new S3loException(ErrorIds.StoreError, S3loErrorKind.WriteError, $"Cannot write '{key}' in {Location}: {e.Message}", key, e);
            throw;
        }
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var slash = prefix.LastIndexOf('/');
        var directoryKey = slash < 0 ? "" : prefix[..slash];
        var start = directoryKey.Length == 0 ? Location.Root : PathOf(directoryKey);
        var started = Stopwatch.GetTimestamp();
        if (!Directory.Exists(start))
        {
            RequestTrace.Local("LIST", Path.Combine(Location.Root, prefix), "0 objects", started);
            yield break;
        }
        var listed = 0;
        foreach (var info in Walk(new DirectoryInfo(start), directoryKey))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!info.Key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            listed++;
            yield return info;
        }
        RequestTrace.Local("LIST", Path.Combine(Location.Root, prefix), listed.ToString(CultureInfo.InvariantCulture) + " objects", started);
        await Task.CompletedTask.ConfigureAwait(false);
    }

    // Streams the directory tree as the file system hands it out (no sorting, nothing held per directory),
    // so a blobs/ folder of 100,000 files costs no more memory than one of ten.
    private IEnumerable<ObjectInfo> Walk(DirectoryInfo directory, string keyPrefix)
    {
        IEnumerator<FileSystemInfo> entries;
        try
        {
            entries = directory.EnumerateFileSystemInfos().GetEnumerator();
        }
        catch (DirectoryNotFoundException)
        {
            yield break;
        }
        using (entries)
        {
            while (true)
            {
                try
                {
                    if (!entries.MoveNext()) yield break;
                }
                catch (DirectoryNotFoundException)
                {
                    yield break;
                }
                var entry = entries.Current;
                if (entry.Name.StartsWith(TempMarker, StringComparison.Ordinal)) continue;
                var key = keyPrefix.Length == 0 ? entry.Name : keyPrefix + "/" + entry.Name;
                if (entry is DirectoryInfo sub)
                {
                    foreach (var inner in Walk(sub, key)) yield return inner;
                }
                else if (entry is FileInfo file && file.Exists)
                {
                    yield return Info(key, file);
                }
            }
        }
    }

    public Task DeleteAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        foreach (var key in keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var path = PathOf(key);
            var started = Stopwatch.GetTimestamp();
            try
            {
                File.Delete(path);
            }
            catch (DirectoryNotFoundException)
            {
            }
            RequestTrace.Local("DELETE", path, "ok", started);
            RemoveEmptyDirectories(Path.GetDirectoryName(path)!);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Moves each file aside first and compares it there, so a touch either happened before the move (the file's time
    /// differs from the one judged, and it goes back) or finds the file gone (and its pusher uploads it again).
    /// </summary>
    public Task<IReadOnlyList<ObjectInfo>> DeleteIfUnchangedAsync(IReadOnlyCollection<ObjectInfo> judged, CancellationToken cancellationToken)
    {
        var deleted = new List<ObjectInfo>();
        foreach (var expected in judged)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var path = PathOf(expected.Key);
            var directory = Path.GetDirectoryName(path)!;
            var aside = Path.Combine(directory, TempMarker + Guid.NewGuid().ToString("N"));
            try
            {
                File.Move(path, aside);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                continue;
            }
            var info = Info(expected.Key, new FileInfo(aside));
            if (info.LastModified == expected.LastModified && info.Size == expected.Size)
            {
                File.Delete(aside);
                deleted.Add(info);
                RemoveEmptyDirectories(directory);
                continue;
            }
            try
            {
                File.Move(aside, path, overwrite: false);
            }
            catch (IOException)
            {
                // A push uploaded the same bytes again while the file was aside.
                File.Delete(aside);
            }
        }
        return Task.FromResult<IReadOnlyList<ObjectInfo>>(deleted);
    }

    /// <summary>
    /// The temporary files of writes that never finished (a process killed before its rename) and of deletes killed
    /// with the file aside, anywhere in the store. Lock files are left: one may be held, and they hold no data.
    /// </summary>
    public async IAsyncEnumerable<IncompleteWrite> ListIncompleteWritesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!Directory.Exists(Location.Root)) yield break;
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
        foreach (var path in Directory.EnumerateFiles(Location.Root, TempMarker + "*", options))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var file = new FileInfo(path);
            if (file.Name.StartsWith(TempMarker + "lock-", StringComparison.Ordinal) || !file.Exists) continue;
            var key = Path.GetRelativePath(Location.Root, path).Replace(Path.DirectorySeparatorChar, '/');
            yield return new IncompleteWrite(key, file.Name, file.Length, new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero));
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <summary>Deletes the temporary file if nothing has written to it since it was listed and no writer still holds it open
    /// (a write in progress keeps an exclusive lock on its file until it is named).</summary>
    public Task<bool> AbortIncompleteWriteAsync(IncompleteWrite write, CancellationToken cancellationToken)
    {
        var path = Path.Combine(Location.Root, write.Key.Replace('/', Path.DirectorySeparatorChar));
        var file = new FileInfo(path);
        if (!file.Name.StartsWith(TempMarker, StringComparison.Ordinal) || !file.Exists
            || new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero) != write.Started)
            return Task.FromResult(false);
        try
        {
            using var claim = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            TryDelete(path);
        }
        catch (FileNotFoundException)
        {
            return Task.FromResult(false);
        }
        catch (IOException)
        {
            // Held by a writer: the write is still going on.
            return Task.FromResult(false);
        }
        RemoveEmptyDirectories(file.DirectoryName!);
        return Task.FromResult(!File.Exists(path));
    }

    public Task<bool> TouchAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            File.SetLastWriteTimeUtc(PathOf(key), DateTime.UtcNow);
            return Task.FromResult(true);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult(false);
        }
    }

    public Task<DateTimeOffset> GetClockAsync(CancellationToken cancellationToken) => Task.FromResult(DateTimeOffset.UtcNow);

    public Task<bool> ExistsAsync(CancellationToken cancellationToken) => Task.FromResult(Directory.Exists(Location.Root));

    // Keeps a deleted tag from leaving empty folders behind; a concurrent writer that just created one
    // makes the delete fail, which is the outcome we want.
    private void RemoveEmptyDirectories(string directory)
    {
        while (directory.Length > Location.Root.Length && directory.StartsWith(Location.Root, StringComparison.Ordinal))
        {
            try
            {
                if (Directory.EnumerateFileSystemEntries(directory).Any()) return;
                Directory.Delete(directory);
            }
            catch (IOException)
            {
                return;
            }
            directory = Path.GetDirectoryName(directory)!;
        }
    }

    private static FileStream OpenFile(string path, int bufferSize)
        => new(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);

    private static ObjectInfo Info(string key, FileInfo file) => new(key, file.Length, new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero));

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
