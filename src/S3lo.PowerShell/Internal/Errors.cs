using System.Management.Automation;
using S3lo.Core;

namespace S3lo.PowerShell.Internal;

internal static class Errors
{
    public static ErrorRecord From(S3loException e, object? target)
        => new(e, e.ErrorId, Category(e.Kind), e.Target ?? target);

    /// <summary>An error about one item of a listing: the item is the target and leads the message, whatever
    /// deeper object (a blob, a key) the failure names.</summary>
    public static ErrorRecord ForItem(S3loException e, string item)
        => new(e, e.ErrorId, Category(e.Kind), item) { ErrorDetails = new ErrorDetails($"{item}: {e.Message}") };

    public static ErrorCategory Category(S3loErrorKind kind) => kind switch
    {
        S3loErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        S3loErrorKind.InvalidData => ErrorCategory.InvalidData,
        S3loErrorKind.NotFound => ErrorCategory.ObjectNotFound,
        S3loErrorKind.ResourceExists => ErrorCategory.ResourceExists,
        S3loErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
        S3loErrorKind.ConnectionError => ErrorCategory.ConnectionError,
        S3loErrorKind.OperationStopped => ErrorCategory.OperationStopped,
        S3loErrorKind.WriteError => ErrorCategory.WriteError,
        S3loErrorKind.ReadError => ErrorCategory.ReadError,
        S3loErrorKind.NotImplemented => ErrorCategory.NotImplemented,
        _ => ErrorCategory.NotSpecified,
    };
}
