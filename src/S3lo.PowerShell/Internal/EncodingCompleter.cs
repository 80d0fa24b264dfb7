using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace S3lo.PowerShell.Internal;

/// <summary>Completes the encoding names Get-Content takes.</summary>
public sealed class EncodingCompleter : IArgumentCompleter
{
    internal static readonly string[] Names = ["utf8", "utf8BOM", "utf8NoBOM", "ascii", "unicode", "bigendianunicode", "utf32", "latin1"];

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
        => Names.Where(n => n.StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase))
            .Select(n => new CompletionResult(n, n, CompletionResultType.ParameterValue, n));
}
