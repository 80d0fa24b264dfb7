using System.Reflection;
using System.Security.Cryptography;
using Xunit.Abstractions;
using S3lo.Core.Oci;
using S3lo.Core.Storage;

namespace S3lo.Core.Tests.Faults;

/// <summary>
/// The book-keeping of one run through a <see cref="TestSupport.FaultProxy"/>: each operation either succeeds or fails with
/// a named S3lo error id (anything else fails the test at once), and the figures printed at the end.
/// </summary>
internal sealed class FaultScenario(string backend, TestSupport.FaultProxy proxy, ITestOutputHelper output)
{
    public static readonly HashSet<string> KnownErrorIds = typeof(ErrorIds).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral).Select(f => (string)f.GetValue(null)!).ToHashSet(StringComparer.Ordinal);

    private readonly List<(string Operation, string? ErrorId)> _outcomes = [];

    public long BytesVerified { get; set; }

    /// <summary>Runs one operation; true when it succeeded, false when it failed with a known S3lo error id.</summary>
    public async Task<bool> RunAsync(string operation, Func<Task> action)
    {
        try
        {
            await action();
            _outcomes.Add((operation, null));
            return true;
        }
        catch (S3loException e)
        {
            AssertNamed(e, operation);
            _outcomes.Add((operation, e.ErrorId));
            return false;
        }
    }

    public static void AssertNamed(Exception e, string operation)
    {
        Assert.True(e is S3loException, $"{operation} failed with {e.GetType().FullName}, not an S3loException: {e}");
        var id = ((S3loException)e).ErrorId;
        Assert.True(KnownErrorIds.Contains(id) && !id.StartsWith("System.", StringComparison.Ordinal),
            $"{operation} failed with the unknown error id '{id}': {e}");
    }

    public int Succeeded => _outcomes.Count(o => o.ErrorId is null);

    public string Line
    {
        get
        {
            var failures = _outcomes.Where(o => o.ErrorId is not null).Select(o => $"{o.Operation}={o.ErrorId}").ToList();
            return $"{backend} seed {proxy.Seed}: faults {proxy.Summary}; operations {Succeeded}/{_outcomes.Count} succeeded" +
                   $"{(failures.Count > 0 ? " (" + string.Join(", ", failures) + ")" : "")}; {BytesVerified} bytes verified";
        }
    }

    /// <summary>Writes <see cref="Line"/> to the test output, and appends it to the file S3LO_FAULT_FIGURES names, if any.</summary>
    public void Print()
    {
        output.WriteLine(Line);
        if (Environment.GetEnvironmentVariable("S3LO_FAULT_FIGURES") is { Length: > 0 } file)
            lock (KnownErrorIds) File.AppendAllText(file, Line + Environment.NewLine);
    }

    /// <summary>
    /// Checks a store through a connection without faults: every tag's manifest and every blob it reaches (an index's
    /// children too) can be read and matches its digest, and every object under a content-addressed name hashes to that
    /// name. Returns the digest of each tag's manifest.
    /// </summary>
    public async Task<Dictionary<string, Digest>> AssertStoreIsWholeAsync(ImageStore direct)
    {
        var tags = new Dictionary<string, Digest>(StringComparer.Ordinal);
        await foreach (var entry in direct.ListTagsAsync("", default))
        {
            var tag = await direct.GetTagAsync(entry.Name, entry.Tag, default);
            tags[$"{entry.Name}:{entry.Tag}"] = tag.Manifest.Digest;
            await AssertReachableAsync(direct, tag.Manifest);
        }
        foreach (var prefix in new[] { StoreLayout.BlobsPrefix, StoreLayout.ChunksPrefix })
        {
            await foreach (var item in direct.Objects.ListAsync(prefix, default))
            {
                await using var stream = await direct.Objects.OpenReadAsync(item.Key, default);
                var hash = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
                Assert.True(item.Key == prefix + hash, $"'{item.Key}' in {direct.Location} holds bytes hashing to {hash}: a partial or wrong object under a final name.");
                BytesVerified += item.Size;
            }
        }
        return tags;
    }

    private async Task AssertReachableAsync(ImageStore direct, Manifest manifest)
    {
        foreach (var descriptor in manifest.References)
        {
            if (MediaTypes.IsManifest(descriptor.MediaType))
            {
                var child = await direct.GetManifestBlobAsync(descriptor, default);
                BytesVerified += child.Bytes.Length;
                await AssertReachableAsync(direct, child);
                continue;
            }
            await using var stream = await direct.OpenBlobAsync(descriptor, default);
            await stream.CopyToAsync(Stream.Null);
            BytesVerified += descriptor.Size;
        }
    }
}
