namespace S3lo.Core.Storage;

/// <summary>
/// A storage backend, found by the scheme of a reference (<c>s3://</c>, <c>az://</c>, <c>local://</c>). It turns
/// the text of a reference into a <see cref="StoreLocation"/> and opens the store. A new backend is one folder
/// under <c>Storage/</c> with its object store and its provider, listed once in <see cref="StoreProviders"/>.
/// </summary>
public interface IStoreProvider
{
    /// <summary>The scheme, lowercase and without <c>://</c>.</summary>
    string Scheme { get; }

    /// <summary>
    /// Splits what follows <c>scheme://</c> in a reference into the store and the image part (<c>name[:tag][@digest]</c>,
    /// still unchecked), or null when the reference names the store alone.
    /// </summary>
    (StoreLocation Store, string? Image) ParseReference(string text, string rest, StoreContext context);

    /// <summary>A store given on its own (<c>-Store s3://bucket</c>); what follows <c>scheme://</c>, with or without a trailing '/'.</summary>
    StoreLocation ParseStore(string text, string rest, StoreContext context);

    /// <summary>How the root is written after <c>scheme://</c> (a local path with '/' separators).</summary>
    string FormatRoot(string root);

    Task<IObjectStore> OpenAsync(StoreLocation location, CancellationToken cancellationToken);
}

/// <summary>
/// What parsing a reference may need besides its text: how to make a written local path absolute (the cmdlets resolve it
/// against the PowerShell location), and each provider's connection settings, keyed by their type.
/// </summary>
public sealed class StoreContext
{
    private readonly object[] _settings;

    public StoreContext(Func<string, string> resolvePath, params object?[] settings)
    {
        ResolvePath = resolvePath;
        _settings = settings.OfType<object>().ToArray();
    }

    /// <summary>Resolves relative paths against the process's current directory, with no connection settings.</summary>
    public static StoreContext Default { get; } = new(Path.GetFullPath);

    public Func<string, string> ResolvePath { get; }

    /// <summary>The settings of type <typeparamref name="T"/>, or null when none were given.</summary>
    public T? Get<T>() where T : class => _settings.OfType<T>().FirstOrDefault();
}

/// <summary>Every storage backend S3lo has, registered once.</summary>
public static class StoreProviders
{
    private static readonly IStoreProvider[] All = [S3.S3StoreProvider.Instance, Azure.AzureStoreProvider.Instance, Local.LocalStoreProvider.Instance];

    /// <summary>The schemes, with <c>://</c>, as a reference starts: <c>s3://</c>, <c>az://</c>, <c>local://</c>.</summary>
    public static IReadOnlyList<string> Prefixes { get; } = All.Select(p => p.Scheme + "://").ToArray();

    /// <summary>The provider whose scheme <paramref name="text"/> starts with (case-insensitively), and the text after <c>://</c>.</summary>
    public static bool TryFind(string? text, out IStoreProvider provider, out string rest)
    {
        foreach (var candidate in All)
        {
            var prefix = candidate.Scheme + "://";
            if (text is not null && text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                provider = candidate;
                rest = text[prefix.Length..];
                return true;
            }
        }
        provider = null!;
        rest = "";
        return false;
    }

    public static Task<IObjectStore> OpenAsync(StoreLocation location, CancellationToken cancellationToken)
        => location.Provider.OpenAsync(location, cancellationToken);

    /// <summary>"s3://, az:// or local://", for messages.</summary>
    public static string Describe() => string.Join(", ", Prefixes.Take(Prefixes.Count - 1)) + " or " + Prefixes[^1];
}
