using S3lo.Core.Oci;

namespace S3lo.Core.Storage;

/// <summary>
/// A provider whose store is one name right after the scheme, a bucket or a container (<c>s3://images/team/app:v1</c>,
/// <c>az://images/</c>), reached with settings of type <typeparamref name="TSettings"/>. Subclasses say which names are
/// valid and how to open the store.
/// </summary>
public abstract class NamedRootProvider<TSettings> : IStoreProvider where TSettings : class, new()
{
    public abstract string Scheme { get; }

    /// <summary>The store named <paramref name="root"/>; <paramref name="settings"/> null means the provider's defaults.</summary>
    public StoreLocation CreateLocation(string root, TSettings? settings = null)
    {
        ValidateRoot(root);
        return new StoreLocation(this, root, settings ?? new TSettings());
    }

    /// <summary>Throws <c>InvalidReference</c> for a name the service would not accept.</summary>
    protected abstract void ValidateRoot(string root);

    public (StoreLocation Store, string? Image) ParseReference(string text, string rest, StoreContext context)
    {
        var slash = rest.IndexOf('/');
        var store = CreateLocation(slash < 0 ? rest : rest[..slash], context.Get<TSettings>());
        var image = slash < 0 ? "" : rest[(slash + 1)..];
        return (store, image.Length == 0 ? null : image);
    }

    public StoreLocation ParseStore(string text, string rest, StoreContext context)
    {
        var (store, image) = ParseReference(text, rest, context);
        return image is null ? store : throw ImageReference.NotAStore(text);
    }

    public string FormatRoot(string root) => root;

    public abstract Task<IObjectStore> OpenAsync(StoreLocation location, CancellationToken cancellationToken);

    /// <summary>The settings a location of this provider carries.</summary>
    protected static TSettings SettingsOf(StoreLocation location) => location.Settings as TSettings ?? new TSettings();
}
