namespace S3lo.Core.Storage;

/// <summary>
/// An optional ability of an object store whose listing of a store that does not exist is simply empty (a local
/// directory): whether it exists. Stores without it report a missing bucket or container when they are listed.
/// </summary>
public interface IStoreExistence
{
    Task<bool> ExistsAsync(CancellationToken cancellationToken);
}

public static class StoreExistence
{
    /// <summary>Fails with <c>StoreNotFound</c> when the store can tell that it does not exist.</summary>
    public static async Task RequireAsync(IObjectStore objects, CancellationToken cancellationToken)
    {
        if (objects is IStoreExistence existence && !await existence.ExistsAsync(cancellationToken).ConfigureAwait(false))
            throw new S3loException(ErrorIds.StoreNotFound, S3loErrorKind.NotFound, $"The store {objects.Location} does not exist.",
                objects.Location.ToString());
    }
}
