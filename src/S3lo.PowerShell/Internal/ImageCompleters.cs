using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using S3lo.Core.Catalog;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Local;

namespace S3lo.PowerShell.Internal;

/// <summary>
/// What the completers of names, tags, references and platforms share: the store (and image) already given on the command
/// line, reached with the connection parameters given there too, and an answer that is never an error. The listing
/// itself, its time limit and its cache are the engine's (<see cref="ImageCompletion"/>).
/// </summary>
internal static class CompletionSupport
{
    public static IEnumerable<CompletionResult> Safely(string wordToComplete, Func<string, IReadOnlyList<string>> complete)
    {
        try
        {
            var word = wordToComplete.Trim('\'', '"');
            return complete(word).Select(value => new CompletionResult(Quote(value), value, CompletionResultType.ParameterValue, value)).ToList();
        }
        catch (Exception)
        {
            // A completer that throws breaks the user's Tab; an answer it cannot give is no answer.
            return [];
        }
    }

    public static StoreContext Context(IDictionary bound)
    {
        var connection = ConnectionParameters.From(bound);
        return new StoreContext(ResolvePath, connection.S3, connection.Azure);
    }

    /// <summary>The store of -Store (a reference or a path), or of the image reference in one of <paramref name="referenceParameters"/>.</summary>
    public static StoreLocation? Store(IDictionary bound, params string[] referenceParameters)
    {
        var context = Context(bound);
        if (ConnectionParameters.Text(bound, "Store") is { } store)
            return ImageReference.LooksLikeReference(store) ? ImageReference.Parse(store, context).Store : LocalStoreProvider.Location(ResolvePath(store));
        foreach (var parameter in referenceParameters)
        {
            if (ConnectionParameters.Text(bound, parameter) is { } reference && ImageReference.LooksLikeReference(reference))
                return ImageReference.Parse(reference, context).Store;
        }
        return null;
    }

    /// <summary>The image the command line names so far: -Store with -Name and -Tag, or a reference parameter.</summary>
    public static ImageReference? Image(IDictionary bound, params string[] referenceParameters)
    {
        var context = Context(bound);
        if (ConnectionParameters.Text(bound, "Store") is { } store)
        {
            if (!ImageReference.LooksLikeReference(store))
                return ImageReference.Create(LocalStoreProvider.Location(ResolvePath(store)), ConnectionParameters.Text(bound, "Name"), ConnectionParameters.Text(bound, "Tag"), null);
            var parsed = ImageReference.Parse(store, context);
            return parsed.Name is null && ConnectionParameters.Text(bound, "Name") is { } name
                ? ImageReference.Create(parsed.Store, name, ConnectionParameters.Text(bound, "Tag"), null)
                : parsed;
        }
        foreach (var parameter in referenceParameters)
        {
            if (ConnectionParameters.Text(bound, parameter) is { } reference && ImageReference.LooksLikeReference(reference))
                return ImageReference.Parse(reference, context);
        }
        return null;
    }

    public static IReadOnlyList<string> Wait(Task<IReadOnlyList<string>> answer) => answer.GetAwaiter().GetResult();

    // The session's proxy refuses calls while the completion's own pipeline runs; a script block runs inside it.
    private static readonly ScriptBlock CurrentLocation = ScriptBlock.Create("(Get-Location -PSProvider FileSystem).ProviderPath");

    // Relative to the PowerShell location, as the cmdlets resolve paths; the process directory when there is none.
    private static string ResolvePath(string path)
    {
        if (path.StartsWith('~')) path = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..];
        if (Path.IsPathFullyQualified(path)) return Path.GetFullPath(path);
        var current = CurrentLocation.Invoke().FirstOrDefault()?.BaseObject as string;
        return string.IsNullOrEmpty(current) ? Path.GetFullPath(path) : Path.GetFullPath(path, current);
    }

    private static string Quote(string value)
        => value.IndexOfAny([' ', '\'', '"', '`', '$', ';', '(', ')', '{', '}', ',', '&', '|', '@', '#']) < 0 ? value : "'" + value.Replace("'", "''") + "'";
}

/// <summary>Completes -Name with the image names of the store given by -Store.</summary>
public sealed class ImageNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
        => CompletionSupport.Safely(wordToComplete, word => CompletionSupport.Store(fakeBoundParameters) is { } store
            ? CompletionSupport.Wait(ImageCompletion.NamesAsync(store, word))
            : []);
}

/// <summary>Completes -Tag with the tags of the image given by -Store and -Name, or by the -Source reference.</summary>
public sealed class ImageTagCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
        => CompletionSupport.Safely(wordToComplete, word => CompletionSupport.Image(fakeBoundParameters, "Source") is { Name: { } name } image
            ? CompletionSupport.Wait(ImageCompletion.TagsAsync(image.Store, name, word))
            : []);
}

/// <summary>Completes an image reference being typed: image names after <c>s3://bucket/</c>, <c>az://container/</c> or
/// <c>local://…/</c>, tags after <c>name:</c>.</summary>
public sealed class ImageReferenceCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
        => CompletionSupport.Safely(wordToComplete, word => ImageReference.LooksLikeReference(word)
            ? CompletionSupport.Wait(ImageCompletion.ReferencesAsync(word, CompletionSupport.Context(fakeBoundParameters)))
            : []);
}

/// <summary>Completes -Platform with the platforms of the image index the command line names.</summary>
public sealed class ImagePlatformCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
        => CompletionSupport.Safely(wordToComplete, word => CompletionSupport.Image(fakeBoundParameters, "Reference", "Source") is { Name: { } name, Tag: { } tag } image
            ? CompletionSupport.Wait(ImageCompletion.PlatformsAsync(image.Store, name, tag)).Where(p => p.StartsWith(word, StringComparison.OrdinalIgnoreCase)).ToList()
            : []);
}
