using System.Collections;
using System.Management.Automation;
using S3lo.Core.Storage.Azure;
using S3lo.Core.Storage.S3;

namespace S3lo.PowerShell.Internal;

/// <summary>
/// The connection parameters every store cmdlet takes, turned into each provider's settings: by the cmdlets from their
/// bound parameters, and by the argument completers from the parameters already typed on the command line.
/// </summary>
internal sealed record ConnectionParameters(string? ProfileName, string? Region, string? EndpointUrl, PSCredential? Credential,
    string? StorageAccountName, string? StorageAccountKey, string? SasToken, string? ConnectionString)
{
    /// <summary>The parameters a completer sees (values PowerShell could work out without running anything).</summary>
    public static ConnectionParameters From(IDictionary bound) => new(
        Text(bound, nameof(ProfileName)), Text(bound, nameof(Region)), Text(bound, nameof(EndpointUrl)),
        Value(bound, nameof(Credential)) as PSCredential, Text(bound, nameof(StorageAccountName)), Text(bound, nameof(StorageAccountKey)),
        Text(bound, nameof(SasToken)), Text(bound, nameof(ConnectionString)));

    /// <summary>An account key or SAS given here wins over a connection string from the environment; without any,
    /// DefaultAzureCredential signs.</summary>
    public AzureConnectionOptions Azure
    {
        get
        {
            var defaults = new AzureConnectionOptions();
            return defaults with
            {
                AccountName = StorageAccountName ?? defaults.AccountName,
                ConnectionString = ConnectionString ?? (StorageAccountKey is null && SasToken is null ? defaults.ConnectionString : null),
                AccountKey = StorageAccountKey,
                SasToken = SasToken,
                EndpointUrl = EndpointUrl,
            };
        }
    }

    public S3ConnectionOptions S3 => new()
    {
        ProfileName = ProfileName,
        Region = Region,
        EndpointUrl = EndpointUrl ?? NonEmpty(Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL_S3")) ?? NonEmpty(Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL")),
        AccessKey = Credential?.UserName,
        SecretKey = Credential?.GetNetworkCredential().Password,
    };

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>A bound value without its PSObject wrapper; the first of an array.</summary>
    internal static object? Value(IDictionary bound, string name)
    {
        if (!bound.Contains(name)) return null;
        var value = bound[name] is PSObject wrapped ? wrapped.BaseObject : bound[name];
        if (value is not string && value is IList { Count: > 0 } list) value = list[0] is PSObject item ? item.BaseObject : list[0];
        return value;
    }

    internal static string? Text(IDictionary bound, string name) => Value(bound, name) is string { Length: > 0 } text ? text : null;
}
