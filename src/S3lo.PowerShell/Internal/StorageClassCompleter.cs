using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace S3lo.PowerShell.Internal;

/// <summary>Completes the S3 storage class names.</summary>
public sealed class StorageClassCompleter : IArgumentCompleter
{
    private static readonly string[] Classes =
    [
        "STANDARD", "INTELLIGENT_TIERING", "STANDARD_IA", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", "REDUCED_REDUNDANCY",
    ];

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
        => Classes.Where(c => c.StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase))
            .Select(c => new CompletionResult(c, c, CompletionResultType.ParameterValue, c));
}
